/** Scalar's API reference, its standalone browser script (built by scripts/build.mjs). */
declare const script: string;
export default script;
