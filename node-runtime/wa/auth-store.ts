// Baileys auth state for one session, in Postgres (wa_creds, wa_keys) instead of a folder of files,
// so a session resumes on any host without a new QR scan.
//
// Values are stored as Baileys writes them in its own file store: JSON with BufferJSON's replacer
// (Buffers as base64), revived with BufferJSON's reviver. makeWASocket wraps the key store in
// addTransactionCapability, whose commit hands all of a transaction's mutations to one `set`: that
// `set` is one database transaction here, so a crash never leaves a half-applied ratchet step.
//
// The read cache holds decoded values (decoding BufferJSON on every hit cost more than the read) and
// assumes a single writer per session (the host holding its lease); another process writing the same
// session's keys would not be seen until the entry is evicted. Pre-keys are not cached when written: a
// link writes hundreds and each is read at most once, when a contact opens a session with it.
import {
  type AuthenticationCreds,
  type AuthenticationState,
  BufferJSON,
  initAuthCreds,
  proto,
  type SignalDataSet,
  type SignalDataTypeMap,
  type SignalKeyStore,
} from '@whiskeysockets/baileys';
import { type Kysely, sql } from 'kysely';
import { setNewest } from '../../shared/bounded-map.js';
import type { Database, JsonValue } from '../../shared/db-schema.js';
import { GroupWriter } from '../../shared/group-writer.js';
import {
  type Fence,
  fenceOfRun,
  heldCte,
  holdLease,
  type LeaseLostError,
  lostLease,
} from '../db/lease-fence.js';

type KeyType = keyof SignalDataTypeMap;

/** One key write: `json` null deletes the key; `value` is what was written, before encoding. */
export interface KeyChange {
  type: string;
  id: string;
  json: string | null;
  value?: unknown;
}

export interface AuthStoreOptions {
  /** Most keys kept in the read cache (decoded values); default 2000. */
  cacheSize?: number;
  /** The host's key writer, shared by its sessions; by default one of this store's own. */
  keyWriter?: KeyWriter;
  /**
   * The host's leases: every write is refused once another host owns the session, or once this host
   * holds it under another epoch than when the store was opened (a later run of the session has its own).
   */
  fence?: Fence;
}

export interface AuthStore {
  /** Pass as `auth` to makeWASocket. `state.creds` is replaced by fresh creds on `clear()`. */
  readonly state: AuthenticationState;
  /** Persists `state.creds`; hook it to the socket's `creds.update` event. */
  saveCreds(): Promise<void>;
  /** Deletes the session's creds and keys (logout) and starts over with fresh, unsaved creds. */
  clear(): Promise<void>;
  /** Resolves once every write queued so far has finished (before the database is closed). */
  settled(): Promise<void>;
}

/** Opens the auth state of the session `sessionId` (sessions.id), with fresh creds if none are stored. */
export async function createAuthStore(
  db: Kysely<Database>,
  sessionId: string,
  options: AuthStoreOptions = {},
): Promise<AuthStore> {
  const stored = await readCreds(db, sessionId);
  const cache = new LruCache(options.cacheSize ?? 2000);
  const fence = options.fence && fenceOfRun(options.fence, sessionId);
  const writer = options.keyWriter ?? keyWriter(db, fence);
  // Bumped whenever the cache is written from a write, so a read that raced with a write does not
  // put what it read (possibly older) into the cache.
  let epoch = 0;
  // Writes run one at a time, so the cache is updated in commit order and clear() cannot be
  // overtaken by a write that started before it.
  let writes: Promise<unknown> = Promise.resolve();
  const serially = <T>(work: () => Promise<T>): Promise<T> => {
    const next = writes.then(work, work);
    writes = next.catch(() => undefined);
    return next;
  };

  const keys: SignalKeyStore = {
    async get<T extends KeyType>(type: T, ids: string[]) {
      const found: { [id: string]: SignalDataTypeMap[T] } = {};
      const missing: string[] = [];
      for (const id of new Set(ids)) {
        const cached = cache.get(cacheKey(type, id));
        if (cached === undefined) missing.push(id);
        else if (cached !== null) found[id] = handOut(cached) as SignalDataTypeMap[T];
      }
      if (missing.length > 0) {
        const readAt = epoch;
        const rows = await readKeys(db, sessionId, type, missing);
        for (const id of missing) {
          const json = rows.get(id);
          const value = json === undefined ? null : decodeKey(type, json);
          // Remember misses too: Baileys asks for absent sessions and sender keys often.
          if (readAt === epoch) cache.set(cacheKey(type, id), value);
          if (value !== null) found[id] = handOut(value);
        }
      }
      return found;
    },
    async set(data: SignalDataSet) {
      // Encode before touching the database, so a value that cannot be encoded fails the whole set.
      const changes = encodeChanges(data);
      if (changes.length === 0) return;
      await serially(async () => {
        await writer.submit({ sessionId, changes, ...(fence ? { fence } : {}) });
        for (const change of changes) {
          const key = cacheKey(change.type, change.id);
          if (change.type === 'pre-key') cache.delete(key);
          else cache.set(key, change.value === null ? null : handOut(change.value));
        }
        epoch += 1;
      });
    },
    async clear() {
      await serially(async () => {
        await deleteKeys(db, sessionId, fence);
        cache.clear();
        epoch += 1;
      });
    },
  };

  const state: AuthenticationState = { creds: stored ?? initAuthCreds(), keys };
  return {
    state,
    saveCreds: () =>
      serially(async () => {
        // Encoded inside the queue so the last save writes the latest creds.
        await writeCreds(db, sessionId, JSON.stringify(state.creds, BufferJSON.replacer), fence);
      }),
    clear: () =>
      serially(async () => {
        await clearAuthState(db, sessionId, fence);
        cache.clear();
        epoch += 1;
        state.creds = initAuthCreds();
      }),
    settled: () => serially(async () => {}),
  };
}

/** The session's stored creds, revived, or undefined when it never saved any. */
export async function readCreds(
  db: Kysely<Database>,
  sessionId: string,
): Promise<AuthenticationCreds | undefined> {
  const row = await db
    .selectFrom('wa_creds')
    // As text: postgres.js would JSON.parse jsonb itself, without Baileys' reviver.
    .select(sql<string>`creds::text`.as('json'))
    .where('session_id', '=', sessionId)
    .executeTakeFirst();
  return row ? (JSON.parse(row.json, BufferJSON.reviver) as AuthenticationCreds) : undefined;
}

/** Runs `work` as it is, or, fenced, in a transaction that first holds the session's lease. */
function fenced(
  db: Kysely<Database>,
  sessionId: string,
  fence: Fence | undefined,
  work: (db: Kysely<Database>) => Promise<unknown>,
): Promise<void> {
  if (!fence) return work(db).then(() => undefined);
  return db.transaction().execute(async (trx) => {
    await holdLease(trx, fence, sessionId);
    await work(trx);
  });
}

/**
 * Stores BufferJSON-encoded creds, replacing earlier ones; with a fence, in one statement that writes
 * only while this host holds the session's lease (LeaseLostError otherwise).
 */
export async function writeCreds(
  db: Kysely<Database>,
  sessionId: string,
  json: string,
  fence?: Fence,
): Promise<void> {
  const { rows } = await sql<{ id: string }>`
    with held as (${heldCte(fence, [sessionId])}), w as (
      insert into wa_creds (session_id, creds) select id, ${jsonb(json)} from held
      on conflict (session_id) do update set creds = excluded.creds
    )
    select id from held`.execute(db);
  if (fence && rows.length === 0) throw lostLease(fence, sessionId);
}

/** The JSON text of the keys of one type that exist, by id. */
export async function readKeys(
  db: Kysely<Database>,
  sessionId: string,
  type: string,
  ids: readonly string[],
): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  // An array parameter, not `in ($1, $2, ...)`: one statement text whatever the count, so each database
  // connection prepares and keeps one plan for it instead of one per list length.
  const rows = await db
    .selectFrom('wa_keys')
    .select(['id', sql<string>`value::text`.as('json')])
    .where('session_id', '=', sessionId)
    .where('type', '=', type)
    .where(sql<boolean>`id = any(${ids}::text[])`)
    .execute();
  for (const row of rows) found.set(row.id, row.json);
  return found;
}

/**
 * One session's key writes, as one `set` made them; `fence`: its run's (see fenceOfRun), which decides
 * whether the write is still the session's; the writer's fence checks the lease in the statement.
 */
export type KeyWrite = { sessionId: string; changes: readonly KeyChange[]; fence?: Fence };

/** Writes the keys of all of a host's sessions, those that queue up together in one statement. */
export type KeyWriter = GroupWriter<KeyWrite, void>;

export const keyWriter = (db: Kysely<Database>, fence?: Fence): KeyWriter =>
  new GroupWriter<KeyWrite, void>((writes) => writeKeys(db, writes, fence));

/**
 * Applies key upserts and deletes, of one session or several, as one statement (atomic on its own: no
 * BEGIN and COMMIT round trips), the values passed as arrays so any number of keys costs a few
 * parameters. Within a session a later change of the same key wins (one `set` has each key once; two
 * sets in one statement cannot happen, as a session's writes run one at a time and an ended run's are
 * left out). With a fence, only the
 * writes of sessions whose leases this host holds, checked in the same statement; the others answer
 * LeaseLostError.
 */
export async function writeKeys(
  db: Kysely<Database>,
  writes: readonly KeyWrite[],
  fence?: Fence,
): Promise<(undefined | LeaseLostError)[]> {
  const fenceOf = (w: KeyWrite) => w.fence ?? fence;
  // A write of a run that no longer holds the lease (see fenceOfRun) is left out unasked. The others' runs
  // hold it under the host's current epoch, which the statement checks.
  const live = new Set(writes.filter((w) => !fenceOf(w) || fenceOf(w)?.epochOf(w.sessionId) !== undefined));
  const all = [...live].flatMap((w) => w.changes.map((c) => ({ sessionId: w.sessionId, ...c })));
  const put = all.filter((c): c is typeof c & { json: string } => c.json !== null);
  const gone = all.filter((c) => c.json === null);
  const { rows } = await sql<{ id: string }>`
    with held as (${heldCte(
      fence,
      [...live].map((w) => w.sessionId),
    )}), gone as (
      delete from wa_keys w
      using unnest(
        ${gone.map((c) => c.sessionId)}::uuid[], ${gone.map((c) => c.type)}::text[], ${gone.map((c) => c.id)}::text[]
      ) as d(session_id, type, id)
      where w.session_id = d.session_id and w.type = d.type and w.id = d.id
        and d.session_id in (select id from held)
    ), put as (
      insert into wa_keys (session_id, type, id, value)
      select p.session_id, p.type, p.id, p.value::jsonb
      from unnest(
        ${put.map((c) => c.sessionId)}::uuid[], ${put.map((c) => c.type)}::text[], ${put.map((c) => c.id)}::text[],
        ${put.map((c) => c.json)}::text[]
      ) as p(session_id, type, id, value)
      where p.session_id in (select id from held)
      on conflict (session_id, type, id) do update set value = excluded.value
    )
    select id from held`.execute(db);
  const held = new Set(rows.map((r) => r.id));
  return writes.map((w) => {
    const run = fenceOf(w);
    return !run || (live.has(w) && held.has(w.sessionId)) ? undefined : lostLease(run, w.sessionId);
  });
}

/** Deletes all Signal keys of the session, keeping its creds. */
export async function deleteKeys(db: Kysely<Database>, sessionId: string, fence?: Fence): Promise<void> {
  await fenced(db, sessionId, fence, (db) =>
    db.deleteFrom('wa_keys').where('session_id', '=', sessionId).execute(),
  );
}

/** Deletes the session's creds and keys together. */
export async function clearAuthState(db: Kysely<Database>, sessionId: string, fence?: Fence): Promise<void> {
  await db.transaction().execute(async (trx) => {
    if (fence) await holdLease(trx, fence, sessionId);
    await trx.deleteFrom('wa_keys').where('session_id', '=', sessionId).execute();
    await trx.deleteFrom('wa_creds').where('session_id', '=', sessionId).execute();
  });
}

function encodeChanges(data: SignalDataSet): KeyChange[] {
  const changes: KeyChange[] = [];
  for (const [type, values] of Object.entries(data)) {
    for (const [id, value] of Object.entries(values ?? {})) {
      changes.push(
        value == null
          ? { type, id, json: null, value: null }
          : {
              type,
              id,
              json:
                (type === 'pre-key' && compactKeyPair(value)) || JSON.stringify(value, BufferJSON.replacer),
              value,
            },
      );
    }
  }
  return changes;
}

// Pre-keys are most of a session's key rows (Baileys uploads 812 at link time) and most of what the
// database caches for it: stored as one string of the two keys rather than BufferJSON's two objects,
// a row is about a third smaller. Rows written before, in BufferJSON, read as they always did.
const KEY_PAIR_PREFIX = 'kp1:';

/** A key pair's compact JSON text, or undefined for a value that is not one. */
function compactKeyPair(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { private: priv, public: pub } = value as Record<string, unknown>;
  if (!(priv instanceof Uint8Array) || !(pub instanceof Uint8Array) || Object.keys(value).length !== 2) {
    return undefined;
  }
  const b64 = (bytes: Uint8Array) =>
    Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  return JSON.stringify(`${KEY_PAIR_PREFIX}${b64(priv)}:${b64(pub)}`);
}

function decodeKey<T extends KeyType>(type: T, json: string): SignalDataTypeMap[T] {
  let value: unknown = JSON.parse(json, BufferJSON.reviver);
  if (typeof value === 'string' && type === 'pre-key' && value.startsWith(KEY_PAIR_PREFIX)) {
    const [priv = '', pub = ''] = value.slice(KEY_PAIR_PREFIX.length).split(':');
    value = { private: Buffer.from(priv, 'base64'), public: Buffer.from(pub, 'base64') };
  }
  // As in Baileys' own file store: app-state keys are used as protobuf objects.
  if (type === 'app-state-sync-key') value = proto.Message.AppStateSyncKeyData.fromObject(value as object);
  // The shape is whatever Baileys stored under this type.
  return value as SignalDataTypeMap[T];
}

/** Makes the parameter text, then casts it: typed as jsonb, postgres.js would JSON-encode it again. */
function jsonb(json: string) {
  return sql<JsonValue>`cast(${json} as text)::jsonb`;
}

function cacheKey(type: string, id: string): string {
  // Type names never contain ':', so the first ':' always ends the type.
  return `${type}:${id}`;
}

/**
 * A cached value as handed out: arrays and plain objects copied one level, so a caller that edits what it
 * got does not edit the cache. Buffers go as they are: Baileys and libsignal only read them.
 */
function handOut<T>(value: T): T {
  if (Array.isArray(value)) return value.slice() as T;
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return { ...value };
  }
  return value;
}

/** A Map in least-recently-used order: reads move an entry to the end, inserts evict from the front. */
class LruCache {
  private readonly entries = new Map<string, unknown>();
  constructor(private readonly max: number) {}

  get(key: string): unknown {
    const value = this.entries.get(key);
    if (value === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  set(key: string, value: unknown): void {
    setNewest(this.entries, key, value, this.max);
  }

  clear(): void {
    this.entries.clear();
  }
}
