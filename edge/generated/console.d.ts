/** The console's browser script, bundled from edge/console/client/, and its style sheet (scripts/build.mjs). */
export declare const script: string;
export declare const style: string;
