import { describe, expect, it } from 'vitest';
import { splitSqlStatements } from '../../../node-runtime/db/split-sql.js';

describe('splitSqlStatements', () => {
  it('splits on top-level semicolons and drops empty pieces', () => {
    expect(splitSqlStatements('SELECT 1;\n\n SELECT 2 ;;\nSELECT 3')).toEqual([
      'SELECT 1',
      'SELECT 2',
      'SELECT 3',
    ]);
  });

  it('ignores semicolons in strings, identifiers and comments', () => {
    const script = [
      "INSERT INTO t VALUES ('a;b', 'it''s; fine', E'back\\'slash;');",
      'SELECT "odd;name" FROM t; -- trailing; comment',
      '/* block; /* nested; */ still comment; */ SELECT 2;',
    ].join('\n');
    expect(splitSqlStatements(script)).toEqual([
      "INSERT INTO t VALUES ('a;b', 'it''s; fine', E'back\\'slash;')",
      'SELECT "odd;name" FROM t',
      '-- trailing; comment\n/* block; /* nested; */ still comment; */ SELECT 2',
    ]);
  });

  it('keeps dollar-quoted bodies whole, and does not mistake $1 for a quote', () => {
    const script = `CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$
BEGIN PERFORM 1; RETURN $$x;$$::text::int; END;
$body$;
PREPARE p AS SELECT $1::int;`;
    expect(splitSqlStatements(script)).toEqual([
      'CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$\nBEGIN PERFORM 1; RETURN $$x;$$::text::int; END;\n$body$',
      'PREPARE p AS SELECT $1::int',
    ]);
  });

  it('drops pieces that are only comments', () => {
    expect(splitSqlStatements('-- header\n/* note */\n;SELECT 1; -- end')).toEqual(['SELECT 1']);
  });

  it('rejects unterminated quotes rather than guessing', () => {
    expect(() => splitSqlStatements("SELECT 'oops")).toThrow(/unterminated/);
    expect(() => splitSqlStatements('SELECT $$oops')).toThrow(/unterminated/);
    expect(() => splitSqlStatements('SELECT 1 /* oops')).toThrow(/unterminated/);
  });
});
