// The edge's calls to a host over one kept connection (an HTTP upgrade on the host's internal port):
// each call and each answer is a line of JSON, and what one side has to say in one turn of its event loop
// goes in one write. Over HTTP every call was a request and an answer of its own, each a write and a
// read on both sides (BENCHMARKS.md, forty-third round).
import { StringDecoder } from 'node:string_decoder';

/** The path and `Upgrade` token that open a channel. */
export const CALLS_PATH = '/internal/calls';
export const CALLS_PROTOCOL = 'wa-gateway-calls/1';

/** The longest call a host takes; a call with a longer body goes over HTTP. */
export const MAX_CALL_BYTES = 1024 * 1024;

/** The longest answer the edge takes (from a host it trusts: a bound on memory, not a check). */
export const MAX_ANSWER_BYTES = 32 * 1024 * 1024;

/** `[id, method, path, headers, body]`: a call, as the host app would get it over HTTP. */
export type CallLine = [number, 'GET' | 'POST', string, Record<string, string>, string | null];

/** `[id, status, body, headers]`: the answer; its headers only for an error (a success's are not read). */
export type AnswerLine = [number, number, string, Record<string, string> | null];

/** Splits a socket's bytes into lines (UTF-8 safe across chunks); false once a line is too long. */
export class LineReader {
  private readonly decoder = new StringDecoder('utf8');
  private rest = '';

  constructor(
    private readonly maxLength: number,
    private readonly onLine: (line: string) => void,
  ) {}

  push(chunk: Buffer): boolean {
    const text = this.rest + this.decoder.write(chunk);
    let start = 0;
    for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
      this.onLine(text.slice(start, end));
      start = end + 1;
    }
    this.rest = start === 0 ? text : text.slice(start);
    return this.rest.length <= this.maxLength;
  }
}

/** Gathers lines and writes them at the end of the turn, in one write. */
export class LineWriter {
  private lines: string[] = [];
  private scheduled = false;
  private after: (() => void)[] = [];

  constructor(private readonly write: (text: string) => void) {}

  push(line: string) {
    this.lines.push(line);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.flush);
  }

  /** Runs `fn` once the lines pushed so far are written. */
  afterWrite(fn: () => void) {
    if (this.scheduled) this.after.push(fn);
    else fn();
  }

  private readonly flush = () => {
    this.scheduled = false;
    const text = `${this.lines.join('\n')}\n`;
    this.lines = [];
    this.write(text);
    const after = this.after;
    this.after = [];
    for (const fn of after) fn();
  };
}
