import { randomBytes } from 'node:crypto';
import {
  type AuthenticationCreds,
  addTransactionCapability,
  BufferJSON,
  proto,
  type SignalDataSet,
} from '@whiskeysockets/baileys';
import { sql } from 'kysely';
import pino from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '../../../node-runtime/db/connect.js';
import { createAuthStore, type KeyWrite, writeKeys } from '../../../node-runtime/wa/auth-store.js';
import { GroupWriter } from '../../../shared/group-writer.js';
import { useTestDatabase } from '../../helpers/postgres.js';

const database = useTestDatabase();

/** Every byte value, so an encoding that mangles any of them shows. */
const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

let tenantId: string;
beforeAll(async () => {
  const tenant = await database()
    .db.insertInto('tenants')
    .values({ name: 'auth-store' })
    .returning('id')
    .executeTakeFirstOrThrow();
  tenantId = tenant.id;
});

async function newSession(): Promise<string> {
  const row = await database()
    .db.insertInto('sessions')
    .values({ tenant_id: tenantId, name: `s-${randomBytes(6).toString('hex')}` })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

async function keyRows(sessionId: string) {
  const { rows } = await sql<{ type: string; id: string; json: string }>`
    select type, id, value::text as json from wa_keys where session_id = ${sessionId} order by type, id`.execute(
    database().db,
  );
  return rows;
}

const encode = (value: unknown) => JSON.stringify(value, BufferJSON.replacer);

/** BufferJSON text with sorted keys: jsonb keeps values exactly but not the order of object keys. */
function canonical(value: unknown): string {
  const sortKeys = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sortKeys);
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(
        Object.entries(v)
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([k, x]) => [k, sortKeys(x)]),
      );
    }
    return v;
  };
  return JSON.stringify(sortKeys(JSON.parse(encode(value))));
}

describe('creds', () => {
  it('starts from fresh creds and stores nothing until saved', async () => {
    const sessionId = await newSession();
    const store = await createAuthStore(database().db, sessionId);
    expect(store.state.creds.registered).toBe(false);
    expect(store.state.creds.noiseKey.private).toHaveLength(32);
    const stored = await database()
      .db.selectFrom('wa_creds')
      .selectAll()
      .where('session_id', '=', sessionId)
      .execute();
    expect(stored).toEqual([]);
  });

  it('round-trips byte-exact, Buffers included', async () => {
    const sessionId = await newSession();
    const store = await createAuthStore(database().db, sessionId);
    const creds = store.state.creds;
    creds.me = { id: '6281234567890:12@s.whatsapp.net', name: 'Ünïcødé ✓ 😀', lid: '123456789:12@lid' };
    creds.routingInfo = ALL_BYTES;
    creds.account = {
      details: randomBytes(64),
      accountSignatureKey: randomBytes(32),
      accountSignature: randomBytes(64),
      deviceSignature: randomBytes(64),
    };
    creds.registered = true;
    creds.nextPreKeyId = 813;
    creds.additionalData = { nested: { bytes: Buffer.from([0, 255, 1]) } };
    await store.saveCreds();

    const loaded = (await createAuthStore(database().db, sessionId)).state.creds;
    expect(canonical(loaded)).toBe(canonical(creds));
    expect(Buffer.isBuffer(loaded.noiseKey.private)).toBe(true);
    expect(Buffer.from(loaded.noiseKey.private).equals(Buffer.from(creds.noiseKey.private))).toBe(true);
    expect(Buffer.from(loaded.signedPreKey.signature).equals(Buffer.from(creds.signedPreKey.signature))).toBe(
      true,
    );
    expect(loaded.routingInfo?.equals(ALL_BYTES)).toBe(true);
    expect(Buffer.from(loaded.account?.details ?? []).equals(Buffer.from(creds.account.details ?? []))).toBe(
      true,
    );
    expect(loaded.me).toEqual(creds.me);
    expect(loaded.registrationId).toBe(creds.registrationId);
  });

  it('saves the latest creds when saves overlap', async () => {
    const sessionId = await newSession();
    const store = await createAuthStore(database().db, sessionId);
    const saves: Promise<void>[] = [];
    for (let i = 1; i <= 20; i++) {
      store.state.creds.nextPreKeyId = i;
      saves.push(store.saveCreds());
    }
    await Promise.all(saves);
    expect((await createAuthStore(database().db, sessionId)).state.creds.nextPreKeyId).toBe(20);
  });
});

describe('keys', () => {
  const appStateKey = (): proto.Message.IAppStateSyncKeyData => ({
    keyData: randomBytes(32),
    fingerprint: { rawId: 7, currentIndex: 1, deviceIndexes: [0, 1] },
    timestamp: 1_700_000_000,
  });

  it('sets, gets and deletes keys of every shape', async () => {
    const sessionId = await newSession();
    const store = await createAuthStore(database().db, sessionId);
    const preKey = { public: randomBytes(32), private: randomBytes(32) };
    const session = new Uint8Array(ALL_BYTES);
    const appState = appStateKey();
    await store.state.keys.set({
      'pre-key': { '1': preKey, '2': { public: randomBytes(32), private: randomBytes(32) } },
      session: { '6281234567890.0': session },
      'app-state-sync-key': { AAAAAAk: appState },
      'lid-mapping': { '6281234567890': '123456789@lid' },
      'device-list': { '6281234567890': ['0', '12'] },
      'sender-key-memory': { 'group@g.us': { '6281234567890:12@s.whatsapp.net': true } },
    });

    // A fresh store has no cache: this reads the database.
    const keys = (await createAuthStore(database().db, sessionId)).state.keys;
    const preKeys = await keys.get('pre-key', ['1', '3']);
    expect(Object.keys(preKeys)).toEqual(['1']);
    expect(Buffer.from(preKeys['1']?.private ?? []).equals(preKey.private)).toBe(true);
    const sessions = await keys.get('session', ['6281234567890.0']);
    expect(Buffer.from(sessions['6281234567890.0'] ?? []).equals(ALL_BYTES)).toBe(true);
    const appStates = await keys.get('app-state-sync-key', ['AAAAAAk']);
    const loaded = appStates.AAAAAAk;
    // Baileys uses these as protobuf objects, as its own file store returns them.
    expect(loaded).toBeInstanceOf(proto.Message.AppStateSyncKeyData);
    expect(Buffer.from(loaded?.keyData ?? []).equals(Buffer.from(appState.keyData ?? []))).toBe(true);
    expect(await keys.get('lid-mapping', ['6281234567890'])).toEqual({ '6281234567890': '123456789@lid' });
    expect(await keys.get('device-list', ['6281234567890'])).toEqual({ '6281234567890': ['0', '12'] });
    expect(await keys.get('sender-key-memory', ['group@g.us'])).toEqual({
      'group@g.us': { '6281234567890:12@s.whatsapp.net': true },
    });

    // Baileys deletes with null; undefined is treated the same, as its file store does.
    const deletes: SignalDataSet = { 'pre-key': { '1': null } };
    Object.assign(deletes, { session: { '6281234567890.0': undefined } });
    await store.state.keys.set(deletes);
    expect(await store.state.keys.get('pre-key', ['1', '2'])).toHaveProperty('2');
    expect(await store.state.keys.get('pre-key', ['1'])).toEqual({});
    expect(await store.state.keys.get('session', ['6281234567890.0'])).toEqual({});
    expect((await keyRows(sessionId)).map((r) => `${r.type}/${r.id}`)).toEqual([
      'app-state-sync-key/AAAAAAk',
      'device-list/6281234567890',
      'lid-mapping/6281234567890',
      'pre-key/2',
      'sender-key-memory/group@g.us',
    ]);
  });

  it('overwrites a key in place', async () => {
    const sessionId = await newSession();
    const store = await createAuthStore(database().db, sessionId);
    await store.state.keys.set({ 'lid-mapping': { a: 'first@lid' } });
    await store.state.keys.set({ 'lid-mapping': { a: 'second@lid' } });
    expect(await store.state.keys.get('lid-mapping', ['a'])).toEqual({ a: 'second@lid' });
    expect(await keyRows(sessionId)).toEqual([{ type: 'lid-mapping', id: 'a', json: '"second@lid"' }]);
  });

  it('writes large batches (a full pre-key upload)', async () => {
    const sessionId = await newSession();
    const store = await createAuthStore(database().db, sessionId);
    const preKeys: Record<string, { public: Buffer; private: Buffer }> = {};
    for (let i = 1; i <= 1200; i++) preKeys[i] = { public: randomBytes(32), private: randomBytes(32) };
    await store.state.keys.set({ 'pre-key': preKeys });
    const fresh = (await createAuthStore(database().db, sessionId)).state.keys;
    const ids = Object.keys(preKeys);
    const loaded = await fresh.get('pre-key', ids);
    expect(Object.keys(loaded)).toHaveLength(1200);
    expect(Buffer.from(loaded['1200']?.public ?? []).equals(preKeys['1200']?.public ?? Buffer.alloc(0))).toBe(
      true,
    );
  });

  it('reads any number of keys with one statement text (one prepared plan per connection)', async () => {
    const db = createDb(database().url, { max: 1 });
    try {
      const sessionId = await newSession();
      const store = await createAuthStore(db, sessionId, { cacheSize: 0 });
      await store.state.keys.set({ 'lid-mapping': { a: '1@lid', b: '2@lid', c: '3@lid' } });
      for (const ids of [['a'], ['a', 'b'], ['a', 'b', 'c', 'd']]) {
        expect(Object.keys(await store.state.keys.get('lid-mapping', ids)).sort()).toEqual(
          ids.filter((id) => id !== 'd'),
        );
      }
      const { rows } = await sql<{ n: number }>`
        select count(*)::int as n from pg_prepared_statements where statement like '%from "wa_keys"%'
          and statement not like '%pg_prepared_statements%'`.execute(db);
      expect(rows[0]?.n).toBe(1);
    } finally {
      await db.destroy();
    }
  });

  it('stores a pre-key as one compact string, and reads pre-keys stored either way', async () => {
    const { db } = database();
    const sessionId = await newSession();
    const store = await createAuthStore(db, sessionId);
    const preKey = { private: randomBytes(32), public: randomBytes(32) };
    await store.state.keys.set({ 'pre-key': { '7': preKey } });
    const [row] = await keyRows(sessionId);
    expect(JSON.parse(row?.json ?? 'null')).toBe(
      `kp1:${preKey.private.toString('base64')}:${preKey.public.toString('base64')}`,
    );
    // Written before this format: BufferJSON, as Baileys' file store writes it.
    const old = { private: randomBytes(32), public: randomBytes(32) };
    await sql`insert into wa_keys (session_id, type, id, value)
      values (${sessionId}, 'pre-key', '8', cast(${encode(old)} as text)::jsonb)`.execute(db);

    const keys = (await createAuthStore(db, sessionId)).state.keys; // no cache: from the database
    const read = await keys.get('pre-key', ['7', '8']);
    for (const [id, expected] of [
      ['7', preKey],
      ['8', old],
    ] as const) {
      expect(Buffer.isBuffer(read[id]?.private) && Buffer.isBuffer(read[id]?.public)).toBe(true);
      expect(Buffer.from(read[id]?.private ?? []).equals(expected.private)).toBe(true);
      expect(Buffer.from(read[id]?.public ?? []).equals(expected.public)).toBe(true);
    }
  });

  it('keeps one session out of another', async () => {
    const a = await createAuthStore(database().db, await newSession());
    const b = await createAuthStore(database().db, await newSession());
    await a.state.keys.set({ 'lid-mapping': { x: 'a@lid' } });
    expect(await b.state.keys.get('lid-mapping', ['x'])).toEqual({});
  });
});

describe('atomicity', () => {
  it('a failing write leaves nothing half-written, in the database or the cache', async () => {
    const { db } = database();
    // Fails any write of the key id 'poison', after the rows before it in the batch are written.
    await sql`
      create or replace function refuse_poison() returns trigger language plpgsql as $$
      begin
        if new.id = 'poison' then raise exception 'poisoned key'; end if;
        return new;
      end $$`.execute(db);
    await sql`
      create or replace trigger refuse_poison before insert or update on wa_keys
      for each row execute function refuse_poison()`.execute(db);

    const sessionId = await newSession();
    const store = await createAuthStore(db, sessionId);
    await store.state.keys.set({ 'lid-mapping': { kept: 'old@lid', deleted: 'here@lid' } });
    const before = await keyRows(sessionId);
    await store.state.keys.get('lid-mapping', ['kept', 'deleted', 'new']);

    await expect(
      store.state.keys.set({
        'lid-mapping': { kept: 'new@lid', deleted: null, new: 'new@lid' },
        session: { fine: randomBytes(8), poison: randomBytes(8) },
      }),
    ).rejects.toThrow(/poisoned key/);

    expect(await keyRows(sessionId)).toEqual(before);
    const expected = { kept: 'old@lid', deleted: 'here@lid' };
    expect(await store.state.keys.get('lid-mapping', ['kept', 'deleted', 'new'])).toEqual(expected);
    expect(await store.state.keys.get('session', ['fine'])).toEqual({});
    const fresh = await createAuthStore(db, sessionId);
    expect(await fresh.state.keys.get('lid-mapping', ['kept', 'deleted', 'new'])).toEqual(expected);

    // The store stays usable after a failed write.
    await store.state.keys.set({ session: { fine: ALL_BYTES } });
    expect(Object.keys(await fresh.state.keys.get('session', ['fine']))).toEqual(['fine']);
  });

  it("writes several sessions' keys in one statement, each into its own session", async () => {
    const { db } = database();
    const statements: string[][] = [];
    const shared = new GroupWriter<KeyWrite, void>(async (writes) => {
      statements.push(writes.map((w) => w.sessionId));
      await writeKeys(db, writes);
      return writes.map(() => undefined);
    });
    const ids = [await newSession(), await newSession(), await newSession()];
    const stores = await Promise.all(ids.map((id) => createAuthStore(db, id, { keyWriter: shared })));
    const [a, b, c] = stores.map((s) => s.state.keys);
    if (!a || !b || !c) throw new Error('three stores');
    await c.set({ 'lid-mapping': { same: 'c-old@lid' } });
    statements.length = 0;
    // Submitted in one turn of the event loop: one statement for all three.
    await Promise.all([
      a.set({ 'lid-mapping': { same: 'a@lid' } }),
      b.set({ 'lid-mapping': { same: 'b@lid' }, session: { s: ALL_BYTES } }),
      c.set({ 'lid-mapping': { same: null } }),
    ]);
    expect(statements).toEqual([ids]);
    const rows = await Promise.all(ids.map(keyRows));
    expect(rows.map((r) => r.map((k) => [k.type, k.id, JSON.parse(k.json)]))).toEqual([
      [['lid-mapping', 'same', 'a@lid']],
      [
        ['lid-mapping', 'same', 'b@lid'],
        ['session', 's', JSON.parse(encode(ALL_BYTES))],
      ],
      [],
    ]);
  });

  it("commits a Baileys transaction's mutations together, or not at all", async () => {
    const sessionId = await newSession();
    const store = await createAuthStore(database().db, sessionId);
    const keys = addTransactionCapability(store.state.keys, pino({ level: 'silent' }), {
      maxCommitRetries: 1,
      delayBetweenTriesMs: 0,
    });

    await expect(
      keys.transaction(async () => {
        await keys.set({ 'lid-mapping': { a: 'a@lid' } });
        await keys.set({ session: { s: randomBytes(4) } });
        throw new Error('decryption failed');
      }, 'tx'),
    ).rejects.toThrow('decryption failed');
    expect(await keyRows(sessionId)).toEqual([]);

    await keys.transaction(async () => {
      await keys.set({ 'lid-mapping': { a: 'a@lid' } });
      await keys.set({ session: { s: randomBytes(4) } });
      expect(await keyRows(sessionId)).toEqual([]);
    }, 'tx');
    expect((await keyRows(sessionId)).map((r) => r.type)).toEqual(['lid-mapping', 'session']);
  });
});

describe('cache', () => {
  it('serves repeated reads from memory, and a fresh store from the database', async () => {
    const { db } = database();
    const sessionId = await newSession();
    const store = await createAuthStore(db, sessionId);
    await store.state.keys.set({ 'lid-mapping': { a: 'a@lid' } });
    expect(await store.state.keys.get('lid-mapping', ['a', 'b'])).toEqual({ a: 'a@lid' });

    // Changed behind the store's back (which the single-writer rule forbids): the cache answers.
    await db.deleteFrom('wa_keys').where('session_id', '=', sessionId).execute();
    await db
      .insertInto('wa_keys')
      .values({ session_id: sessionId, type: 'lid-mapping', id: 'b', value: 'b@lid' })
      .execute();
    expect(await store.state.keys.get('lid-mapping', ['a', 'b'])).toEqual({ a: 'a@lid' });
    const fresh = await createAuthStore(db, sessionId);
    expect(await fresh.state.keys.get('lid-mapping', ['a', 'b'])).toEqual({ b: 'b@lid' });
  });

  it("follows the store's own writes and deletes", async () => {
    const sessionId = await newSession();
    const store = await createAuthStore(database().db, sessionId);
    expect(await store.state.keys.get('lid-mapping', ['a'])).toEqual({});
    await store.state.keys.set({ 'lid-mapping': { a: 'one@lid' } });
    expect(await store.state.keys.get('lid-mapping', ['a'])).toEqual({ a: 'one@lid' });
    await store.state.keys.set({ 'lid-mapping': { a: 'two@lid' } });
    expect(await store.state.keys.get('lid-mapping', ['a'])).toEqual({ a: 'two@lid' });
    await store.state.keys.set({ 'lid-mapping': { a: null } });
    expect(await store.state.keys.get('lid-mapping', ['a'])).toEqual({});
    const fresh = await createAuthStore(database().db, sessionId);
    expect(await fresh.state.keys.get('lid-mapping', ['a'])).toEqual({});
  });

  it('hands out copies, so mutating a returned value changes nothing stored', async () => {
    const sessionId = await newSession();
    const store = await createAuthStore(database().db, sessionId);
    await store.state.keys.set({ 'device-list': { u: ['0'] } });
    const first = await store.state.keys.get('device-list', ['u']);
    first.u?.push('99');
    expect(await store.state.keys.get('device-list', ['u'])).toEqual({ u: ['0'] });
  });

  it('keeps decoded values: a hit hands out the value it decoded before, not a fresh parse', async () => {
    const sessionId = await newSession();
    await (await createAuthStore(database().db, sessionId)).state.keys.set({ session: { s: ALL_BYTES } });
    const store = await createAuthStore(database().db, sessionId);
    const first = (await store.state.keys.get('session', ['s'])).s;
    const second = (await store.state.keys.get('session', ['s'])).s;
    expect(Buffer.from(first ?? []).equals(ALL_BYTES)).toBe(true);
    expect(second).toBe(first);
  });

  it('does not cache pre-keys it writes (each is read at most once), but does cache other keys', async () => {
    const { db } = database();
    const sessionId = await newSession();
    const store = await createAuthStore(db, sessionId);
    const pair = { public: randomBytes(32), private: randomBytes(32) };
    await store.state.keys.set({ 'pre-key': { '7': pair }, 'lid-mapping': { a: 'a@lid' } });
    // Changed behind the store's back: the pre-key is read from the database, the mapping from memory.
    await db.deleteFrom('wa_keys').where('session_id', '=', sessionId).execute();
    expect(await store.state.keys.get('pre-key', ['7'])).toEqual({});
    expect(await store.state.keys.get('lid-mapping', ['a'])).toEqual({ a: 'a@lid' });
  });

  it('ends with the last write when writes overlap, in the cache and the database', async () => {
    const sessionId = await newSession();
    const store = await createAuthStore(database().db, sessionId);
    await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        Promise.all([
          store.state.keys.set({ 'lid-mapping': { a: `${i}@lid` } }),
          store.state.keys.get('lid-mapping', ['a']),
        ]),
      ),
    );
    expect(await store.state.keys.get('lid-mapping', ['a'])).toEqual({ a: '24@lid' });
    const fresh = await createAuthStore(database().db, sessionId);
    expect(await fresh.state.keys.get('lid-mapping', ['a'])).toEqual({ a: '24@lid' });
  });

  it('evicts beyond its size and still answers from the database', async () => {
    const sessionId = await newSession();
    const store = await createAuthStore(database().db, sessionId, { cacheSize: 2 });
    await store.state.keys.set({ 'lid-mapping': { a: 'a@lid', b: 'b@lid', c: 'c@lid' } });
    expect(await store.state.keys.get('lid-mapping', ['a', 'b', 'c'])).toEqual({
      a: 'a@lid',
      b: 'b@lid',
      c: 'c@lid',
    });
  });
});

describe('clear', () => {
  it("wipes the session's creds and keys, and only that session's", async () => {
    const { db } = database();
    const sessionId = await newSession();
    const otherId = await newSession();
    const store = await createAuthStore(db, sessionId);
    const other = await createAuthStore(db, otherId);
    const oldCreds: AuthenticationCreds = store.state.creds;
    store.state.creds.registered = true;
    await store.saveCreds();
    await other.saveCreds();
    await store.state.keys.set({ 'lid-mapping': { a: 'a@lid' }, session: { s: ALL_BYTES } });
    await other.state.keys.set({ 'lid-mapping': { a: 'other@lid' } });
    expect(await store.state.keys.get('lid-mapping', ['a'])).toEqual({ a: 'a@lid' });

    await store.clear();

    expect(await keyRows(sessionId)).toEqual([]);
    const creds = await db
      .selectFrom('wa_creds')
      .select('session_id')
      .where('session_id', 'in', [sessionId, otherId])
      .execute();
    expect(creds.map((r) => r.session_id)).toEqual([otherId]);
    expect(await store.state.keys.get('lid-mapping', ['a'])).toEqual({});
    // Ready for a new pairing: fresh identity, not the logged-out one.
    expect(store.state.creds.registered).toBe(false);
    expect(encode(store.state.creds.noiseKey)).not.toBe(encode(oldCreds.noiseKey));
    const reopened = await createAuthStore(db, sessionId);
    expect(reopened.state.creds.registered).toBe(false);
    expect(await other.state.keys.get('lid-mapping', ['a'])).toEqual({ a: 'other@lid' });
    expect(await keyRows(otherId)).toHaveLength(1);
  });

  it('goes away with the session row', async () => {
    const { db } = database();
    const sessionId = await newSession();
    const store = await createAuthStore(db, sessionId);
    await store.saveCreds();
    await store.state.keys.set({ 'lid-mapping': { a: 'a@lid' } });
    await db.deleteFrom('sessions').where('id', '=', sessionId).execute();
    expect(await keyRows(sessionId)).toEqual([]);
    expect(await db.selectFrom('wa_creds').selectAll().where('session_id', '=', sessionId).execute()).toEqual(
      [],
    );
  });
});
