// Splits a SQL script into statements. Needed because kysely-postgres-js runs every query as a
// prepared statement, and PostgreSQL refuses several commands in one prepared statement.
// Understands what can hide a `;`: quoted strings (with E'' escapes), quoted identifiers,
// dollar-quoted bodies ($$ or $tag$), line comments and nested block comments.

const DOLLAR_TAG = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/;

/** Returns the statements of `script` without their trailing `;`; comments-only pieces are dropped. */
export function splitSqlStatements(script: string): string[] {
  const statements: string[] = [];
  let start = 0;
  let i = 0;
  let hasCode = false;
  const n = script.length;

  const push = (end: number) => {
    const text = script.slice(start, end).trim();
    if (hasCode && text.length > 0) statements.push(text);
    hasCode = false;
  };

  while (i < n) {
    const c = script[i];
    const next = script[i + 1];
    if (c === '-' && next === '-') {
      const eol = script.indexOf('\n', i);
      i = eol === -1 ? n : eol + 1;
    } else if (c === '/' && next === '*') {
      i = skipBlockComment(script, i);
    } else if (c === "'") {
      const escapes = /[eE]/.test(script[i - 1] ?? '') && !/[A-Za-z0-9_]/.test(script[i - 2] ?? '');
      i = skipQuoted(script, i, "'", escapes);
      hasCode = true;
    } else if (c === '"') {
      i = skipQuoted(script, i, '"', false);
      hasCode = true;
    } else if (c === '$' && !/[A-Za-z0-9_]/.test(script[i - 1] ?? '')) {
      const tag = DOLLAR_TAG.exec(script.slice(i, i + 66))?.[0];
      if (tag) {
        const close = script.indexOf(tag, i + tag.length);
        if (close === -1) throw new Error(`unterminated dollar-quoted string ${tag}`);
        i = close + tag.length;
      } else {
        i += 1;
      }
      hasCode = true;
    } else if (c === ';') {
      push(i);
      i += 1;
      start = i;
    } else {
      if (c !== undefined && !/\s/.test(c)) hasCode = true;
      i += 1;
    }
  }
  push(n);
  return statements;
}

function skipBlockComment(script: string, from: number): number {
  // PostgreSQL block comments nest.
  let depth = 0;
  let i = from;
  while (i < script.length) {
    if (script[i] === '/' && script[i + 1] === '*') {
      depth += 1;
      i += 2;
    } else if (script[i] === '*' && script[i + 1] === '/') {
      depth -= 1;
      i += 2;
      if (depth === 0) return i;
    } else {
      i += 1;
    }
  }
  throw new Error('unterminated block comment');
}

function skipQuoted(script: string, from: number, quote: string, backslashEscapes: boolean): number {
  let i = from + 1;
  while (i < script.length) {
    const c = script[i];
    if (backslashEscapes && c === '\\') {
      i += 2;
    } else if (c === quote) {
      // A doubled quote is an escaped quote, not the end.
      if (script[i + 1] === quote) i += 2;
      else return i + 1;
    } else {
      i += 1;
    }
  }
  throw new Error(`unterminated ${quote === "'" ? 'string' : 'quoted identifier'}`);
}
