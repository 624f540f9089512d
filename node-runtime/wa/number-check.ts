// Which numbers are on WhatsApp, asked with a usync query and remembered across this process's
// sockets: a send checks its recipient (Baileys would otherwise send to no device and report success),
// and POST /api/contacts/check asks for up to 50 at once. Bulk lookups are what gets numbers banned, so
// every answer is kept a while.
import type { WASocket } from '@whiskeysockets/baileys';
import { setNewest } from '../../shared/bounded-map.js';

/** How long an answer is trusted: numbers rarely leave WhatsApp (a send to one that did fails there). */
const ON_WHATSAPP_TTL_MS = 10 * 60_000;
/** A number may join at any time: "not on WhatsApp" is kept for less. */
const NOT_ON_WHATSAPP_TTL_MS = 60_000;
const MAX_KNOWN = 20_000;

export type NumberAnswer = { jid: string; exists: boolean; found: string | null };

const known = new Map<string, { exists: boolean; found: string | null; until: number }>();

const remember = (jid: string, exists: boolean, found: string | null) => {
  const until = Date.now() + (exists ? ON_WHATSAPP_TTL_MS : NOT_ON_WHATSAPP_TTL_MS);
  setNewest(known, jid, { exists, found, until }, MAX_KNOWN);
};

/**
 * The queries under way, by the numbers they ask about: a number asked again meanwhile waits for that
 * answer. The outbox hands a session's messages over together, each checking its recipient, so a first
 * batch to a new contact was as many queries for one number as it had messages.
 */
const asking = new Map<string, Promise<void>>();

const userOf = (jid: string) => jid.split('@')[0]?.split(':')[0] ?? '';

/** Asks WhatsApp about `jids` in one query and remembers the answers. */
function ask(sock: WASocket, jids: string[]): Promise<void> {
  const query = (async () => {
    const found = new Map(((await sock.onWhatsApp(...jids)) ?? []).map((r) => [userOf(r.jid), r]));
    for (const jid of jids) {
      const hit = found.get(userOf(jid));
      remember(jid, !!hit?.exists, hit?.exists ? hit.jid : null);
    }
  })().finally(() => {
    for (const jid of jids) if (asking.get(jid) === query) asking.delete(jid);
  });
  for (const jid of jids) asking.set(jid, query);
  return query;
}

const unknownOf = (jids: readonly string[]) => {
  const now = Date.now();
  return [...new Set(jids.filter((jid) => (known.get(jid)?.until ?? 0) <= now))];
};

/**
 * One answer per phone-number JID, in order; only those not known yet go to WhatsApp, in one query, and
 * those another query is already asking about wait for its answer (asked again here if it failed: it
 * may have gone through another session's socket).
 */
export async function checkNumbers(sock: WASocket, jids: readonly string[]): Promise<NumberAnswer[]> {
  const unknown = unknownOf(jids);
  if (unknown.length > 0) {
    const joined = new Set<Promise<void>>();
    const fresh: string[] = [];
    for (const jid of unknown) {
      const pending = asking.get(jid);
      if (pending) joined.add(pending);
      else fresh.push(jid);
    }
    const own = fresh.length > 0 ? ask(sock, fresh) : undefined;
    own?.catch(() => {}); // awaited below, after the joined ones
    await Promise.all([...joined].map((query) => query.catch(() => undefined)));
    const left = unknownOf(unknown.filter((jid) => !fresh.includes(jid)));
    await Promise.all([own, left.length > 0 ? ask(sock, left) : undefined]);
  }
  return jids.map((jid) => {
    const answer = known.get(jid);
    return { jid, exists: answer?.exists ?? false, found: answer?.found ?? null };
  });
}

/** Whether a send may go to `jid`: a remembered "not on WhatsApp" is asked again, a positive is trusted. */
export async function isOnWhatsApp(sock: WASocket, jid: string): Promise<boolean> {
  const answer = known.get(jid);
  if (answer?.exists && answer.until > Date.now()) return true;
  known.delete(jid);
  const [result] = await checkNumbers(sock, [jid]);
  return result?.exists ?? false;
}
