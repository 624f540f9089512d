// A first message to a contact needs the contact's devices (a usync query) and a Signal session with each
// (their pre-keys, an encrypt query). Baileys asks for both inside the send, after our number check has
// answered: three round trips to WhatsApp one after another. Asked here, beside the number check, the
// first send waits for two, as it does in raw Baileys, which checks no number.
import { isPnUser, jidDecode, jidNormalizedUser, type WASocket } from '@whiskeysockets/baileys';
import { knownOnWhatsApp } from './number-check.js';

/** The contacts each socket is preparing: a batch that sends to one meanwhile waits for those queries. */
const preparing = new WeakMap<WASocket, Map<string, Promise<void>>>();

/**
 * Fetches the devices of the phone-number contacts in `jids` that Baileys has not cached, and opens a
 * Signal session with each device that has none, as Baileys' send would (same calls, same caches). Under
 * the socket's key lock, in one key transaction, so its writes commit together and never interleave with
 * a send's or an incoming message's. Numbers known not to be on WhatsApp are left out (no device query
 * for them each time): call it before their check asks again.
 */
export async function prepareSessions(sock: WASocket, jids: readonly string[]): Promise<void> {
  const me = sock.authState.creds.me;
  if (!me) return;
  const own = preparing.get(sock) ?? new Map<string, Promise<void>>();
  preparing.set(sock, own);
  const pending = new Set<Promise<void>>();
  const fresh: string[] = [];
  // Read before any await: the number check beside this forgets a "not on WhatsApp" as it asks again.
  const candidates = [...new Set(jids)].filter((jid) => isPnUser(jid) && knownOnWhatsApp(jid) !== false);
  for (const jid of candidates) {
    const under = own.get(jid);
    if (under) pending.add(under);
    else if (await needsDevices(sock, jid)) fresh.push(jid);
  }
  if (fresh.length > 0) {
    const work = sock.authState.keys.transaction(async () => {
      const devices = await sock.getUSyncDevices([jidNormalizedUser(me.id), ...fresh], true, false);
      // Every device but this one, as Baileys' send addresses them.
      await sock.assertSessions(devices.map((d) => d.jid).filter((jid) => jid !== me.id && jid !== me.lid));
    }, me.id);
    const done = work.finally(() => {
      for (const jid of fresh) if (own.get(jid) === done) own.delete(jid);
    });
    for (const jid of fresh) own.set(jid, done);
    pending.add(done);
  }
  await Promise.all(pending);
}

const needsDevices = async (sock: WASocket, jid: string) => {
  const user = jidDecode(jid)?.user;
  return !!user && !(await sock.userDevicesCache.get(user));
};
