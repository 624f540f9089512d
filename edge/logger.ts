// Structured logging without a dependency on any runtime: pino fits this interface (the Node entry passes
// one); elsewhere JSON lines go to the console. Nothing here may receive a key or a message text.
import { API_KEY_SCANNER_PATTERN } from '../shared/api-key.js';

export type LogFields = Record<string, unknown>;

/** One line per event; the fields carry ids, the message says what happened. */
export interface EdgeLogger {
  /** Detail an operator turns on when needed (pino's level decides; the console logger has none). */
  debug?(fields: LogFields, message: string): void;
  /** Whether a line at `level` would be written (pino's); absent, every level the logger has is. */
  isLevelEnabled?(level: 'debug'): boolean;
  info(fields: LogFields, message: string): void;
  warn(fields: LogFields, message: string): void;
  error(fields: LogFields, message: string): void;
}

const LEVELS = { info: 30, warn: 40, error: 50 } as const;

/** JSON lines on the console, in pino's shape, for runtimes without pino (Workers, Deno). */
export function consoleLogger(name = 'edge'): EdgeLogger {
  const write = (level: keyof typeof LEVELS) => (fields: LogFields, message: string) => {
    const line = JSON.stringify({ level: LEVELS[level], time: Date.now(), name, ...fields, msg: message });
    if (level === 'error') console.error(line);
    else console.log(line);
  };
  return { info: write('info'), warn: write('warn'), error: write('error') };
}

export const silentLogger: EdgeLogger = { info() {}, warn() {}, error() {} };

/**
 * What of an error is safe to log: name, message, stack, code, a numeric status (an HTTP error's, a host's
 * reply), and the same of its cause. Deliberately not every own property: a database error carries the
 * query's parameters.
 */
export function errorInfo(err: unknown, depth = 0): LogFields {
  if (!(err instanceof Error)) return { value: typeof err };
  const info: LogFields = { name: err.name, message: err.message, stack: err.stack };
  const code = Reflect.get(err, 'code');
  if (typeof code === 'string' || typeof code === 'number') info.code = code;
  const status = Reflect.get(err, 'status');
  if (typeof status === 'number') info.status = status;
  if (err.cause !== undefined && depth < 3) info.cause = errorInfo(err.cause, depth + 1);
  return info;
}

const OUR_KEY = new RegExp(API_KEY_SCANNER_PATTERN, 'g');

/** The text with anything shaped like one of our keys replaced; for request paths, which clients write. */
export function redactKeys(text: string): string {
  return text.replace(OUR_KEY, '[key]');
}
