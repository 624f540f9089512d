// Which numbers are on WhatsApp, asked with a usync query and remembered across this process's
// sockets: a send checks its recipient (Baileys would otherwise send to no device and report success),
// and POST /api/contacts/check asks for up to 50 at once. Bulk lookups are what gets numbers banned, so
// every answer is kept a while.
import type { WASocket } from '@whiskeysockets/baileys';

/** How long an answer is trusted: numbers rarely leave WhatsApp (a send to one that did fails there). */
const ON_WHATSAPP_TTL_MS = 10 * 60_000;
/** A number may join at any time: "not on WhatsApp" is kept for less. */
const NOT_ON_WHATSAPP_TTL_MS = 60_000;
const MAX_KNOWN = 20_000;

export type NumberAnswer = { jid: string; exists: boolean; found: string | null };

const known = new Map<string, { exists: boolean; found: string | null; until: number }>();

const remember = (jid: string, exists: boolean, found: string | null) => {
  known.delete(jid);
  if (known.size >= MAX_KNOWN) known.delete(known.keys().next().value ?? '');
  known.set(jid, {
    exists,
    found,
    until: Date.now() + (exists ? ON_WHATSAPP_TTL_MS : NOT_ON_WHATSAPP_TTL_MS),
  });
};

const userOf = (jid: string) => jid.split('@')[0]?.split(':')[0] ?? '';

/** One answer per phone-number JID, in order; only those not known yet go to WhatsApp, in one query. */
export async function checkNumbers(sock: WASocket, jids: readonly string[]): Promise<NumberAnswer[]> {
  const now = Date.now();
  const unknown = [...new Set(jids.filter((jid) => (known.get(jid)?.until ?? 0) <= now))];
  if (unknown.length > 0) {
    const found = new Map(((await sock.onWhatsApp(...unknown)) ?? []).map((r) => [userOf(r.jid), r]));
    for (const jid of unknown) {
      const hit = found.get(userOf(jid));
      remember(jid, !!hit?.exists, hit?.exists ? hit.jid : null);
    }
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
