// Files wait in PostgreSQL as bytea (outbox_media) until they are sent. patches/postgres+3.4.9.patch (item
// 8) sends a bytea parameter as its bytes rather than as hex text twice its size, and asks for a bytea
// column in binary once its statement's columns are known: from the first run of a statement with
// parameters (described before it is bound), from the second of one without (described and run in one
// go; its first run reads hex, without decoding it as UTF-8 first). The values must come back exactly as
// they went in.
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import postgres from 'postgres';
import { expect, it } from 'vitest';
import { closeDb, createDb } from '../../../node-runtime/db/connect.js';
import { useTestDatabase } from '../../helpers/postgres.js';
import { startTcpProxy } from '../../helpers/tcp-proxy.js';

const database = useTestDatabase();
const MiB = 1024 * 1024;

it('a megabyte of bytea goes to PostgreSQL and back as about a megabyte, and comes back the same', async () => {
  const proxy = await startTcpProxy(database().url);
  const db = createDb(proxy.url, { max: 1 });
  try {
    await sql`create table files (id int primary key, data bytea not null)`.execute(db);
    const file = randomBytes(MiB);
    const before = proxy.bytesToServer();
    await sql`insert into files values (1, ${file})`.execute(db);
    // Hex would be 2 MiB and more: the statement and the rest of the message are a few hundred bytes.
    expect(proxy.bytesToServer() - before).toBeLessThan(MiB + 4096);

    // A plain Uint8Array (what the edge decodes base64 into), and a bytea compared in a WHERE.
    const view = new Uint8Array(file.buffer, file.byteOffset + 10, 1000);
    await sql`insert into files values (2, ${view})`.execute(db);
    const found = await sql<{ id: number }>`select id from files where data = ${view}`.execute(db);
    expect(found.rows).toEqual([{ id: 2 }]);

    const read = async () => {
      const from = proxy.bytesToClients();
      const rows = await sql<{ id: number; data: Buffer; length: number }>`
        select id, data, octet_length(data) as length from files order by id`.execute(db);
      expect(rows.rows.map((r) => r.length)).toEqual([MiB, 1000]);
      expect(Buffer.isBuffer(rows.rows[0]?.data)).toBe(true);
      expect(rows.rows[0]?.data.equals(file)).toBe(true);
      expect(rows.rows[1]?.data.equals(Buffer.from(view))).toBe(true);
      return proxy.bytesToClients() - from;
    };
    // Without parameters, the first run describes the statement and reads hex; from the second on, the
    // bytes themselves.
    expect(await read()).toBeGreaterThan(2 * MiB);
    expect(await read()).toBeLessThan(MiB + 4096);
    expect(await read()).toBeLessThan(MiB + 4096);

    // With parameters (how the hosts read a file), the bytes themselves from the first run on.
    const readOne = async () => {
      const from = proxy.bytesToClients();
      const rows = await sql<{ data: Buffer }>`select data from files where id = ${1}`.execute(db);
      expect(rows.rows[0]?.data.equals(file)).toBe(true);
      return proxy.bytesToClients() - from;
    };
    expect(await readOne()).toBeLessThan(MiB + 4096);
    expect(await readOne()).toBeLessThan(MiB + 4096);
  } finally {
    await closeDb(db);
    await proxy.close();
  }
});

it('bytea parameters beside text ones, and an empty and a null bytea, keep their values', async () => {
  const db = database().db;
  await sql`create table pairs (id int primary key, label text, data bytea)`.execute(db);
  await sql`insert into pairs values (1, ${'ü'}, ${Buffer.from([0, 255, 10])}), (2, ${'x'}, ${new Uint8Array(0)}), (3, ${'y'}, ${null})`.execute(
    db,
  );
  // Twice: in text the first time, in binary after.
  for (let run = 0; run < 2; run++) {
    const rows = await sql<{ label: string; data: Buffer | null; hex: string | null }>`
      select label, data, encode(data, 'hex') as hex from pairs order by id`.execute(db);
    expect(rows.rows.map((r) => [r.label, r.hex, r.data && [...r.data]])).toEqual([
      ['ü', '00ff0a', [0, 255, 10]],
      ['x', '', []],
      ['y', null, null],
    ]);
  }
});

it("raw() rows keep a bytea column's text, as the driver has always given them", async () => {
  const client = postgres(database().url, { max: 1, onnotice: () => {} });
  try {
    await client`create table raw_files (id int primary key, data bytea not null)`;
    await client`insert into raw_files values (1, ${Buffer.from([0, 255, 10])})`;
    // Run after run: the second and third know the statement's columns, which makes others binary.
    for (let run = 0; run < 3; run++) {
      const [row] = await client`select data from raw_files where id = ${1}`.raw();
      expect(Buffer.from(row?.[0] as Uint8Array).toString()).toBe('\\x00ff0a');
      const [parsed] = await client<{ data: Buffer }[]>`select data from raw_files where id = ${1}`;
      expect([...(parsed?.data ?? [])]).toEqual([0, 255, 10]);
    }
  } finally {
    await client.end();
  }
});
