/**
 * A failure at start that a person can fix (a port in use, a directory we cannot write, a database
 * another run holds): the entry prints its message, one line naming the fix, and no stack trace.
 */
export class StartupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StartupError';
  }
}

/** A configuration that does not parse: one problem per variable, naming it, never its value. */
export class ConfigError extends StartupError {
  constructor(readonly problems: string[]) {
    super(`configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

/** Prints why a start failed: one line per problem a person can fix, the whole stack for the rest. */
export const reportStartFailure = (err: unknown) => {
  if (err instanceof ConfigError) {
    for (const problem of err.problems) process.stderr.write(`configuration: ${problem}\n`);
  } else if (err instanceof StartupError) {
    process.stderr.write(`error: ${err.message}\n`);
  } else {
    process.stderr.write(
      `start failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
  }
};
