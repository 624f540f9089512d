import { type BinaryNode, jidDecode } from '@whiskeysockets/baileys';
import type { SimConnection } from './connection.js';
import { MAX_MEDIA_BYTES, MEDIA_AUTH_TTL_S, MEDIA_CONN_TTL_S } from './media.js';
import { bigEndian, bytes, child, childBytes, children, iqResult, uintBE } from './nodes.js';
import type { PreKeyBundle } from './phone.js';
import { sendHistorySync } from './relay.js';
import type { Simulator } from './simulator.js';
import { type Account, isOnWhatsApp, type LinkedDevice } from './world.js';

/** Answers every iq a logged-in companion sends, so none of Baileys' queries waits for its timeout. */
export const handleIq = (
  sim: Simulator,
  conn: SimConnection,
  account: Account,
  device: LinkedDevice,
  iq: BinaryNode,
) => {
  if (iq.attrs.type === 'result' || iq.attrs.type === 'error') return;
  const first = children(iq)[0];
  const reply = (content?: BinaryNode[]) => conn.send(iqResult(iq, content));
  switch (iq.attrs.xmlns) {
    case 'encrypt':
      return reply(encrypt(sim, account, device, iq, first));
    case 'w:sync:app:state':
      // Nothing was ever synced: every collection asked for is empty at version 0.
      return reply([
        {
          tag: 'sync',
          attrs: {},
          content: children(first).map((c) => ({
            tag: 'collection',
            attrs: { name: c.attrs.name ?? '', version: '0' },
          })),
        },
      ]);
    case 'usync':
      sim.usyncQueries++;
      return reply(usync(sim, first));
    case 'md':
      if (first?.tag === 'remove-companion-device') {
        account.devices.delete(device.id); // the device's own logout
        sim.world.changed();
        reply();
        return conn.close();
      }
      return reply();
    case 'privacy':
      if (iq.attrs.type === 'get') {
        const categories = ['readreceipts', 'last', 'online', 'profile', 'status', 'groupadd', 'calladd'];
        return reply([
          {
            tag: 'privacy',
            attrs: {},
            content: categories.map((name) => ({
              tag: 'category',
              attrs: { name, value: name === 'readreceipts' ? 'all' : 'contacts' },
            })),
          },
        ]);
      }
      if (child(iq, 'tokens')) sim.privacyTokenIssues++;
      return reply();
    case 'w:m':
      return reply(first?.tag === 'media_conn' ? [mediaConn(sim)] : undefined);
    case 'abt':
      return reply([{ tag: 'props', attrs: { protocol: '1', hash: 'sim' } }]);
    case 'blocklist':
      return reply([{ tag: 'list', attrs: {} }]);
    default:
      // w:p pings, passive/active, presence subscriptions and the rest: a plain result is enough.
      return reply();
  }
};

/**
 * Where to upload media, as WhatsApp answers it: an upload token and the media hosts. The simulator's
 * one host is its HTTPS media server, named `127.0.0.1:<port>` (Baileys builds `https://<hostname>/mms/…`
 * from it, and downloads from the host a message's URL names).
 */
const mediaConn = (sim: Simulator): BinaryNode => ({
  tag: 'media_conn',
  attrs: {
    auth: sim.media.issueToken(),
    ttl: String(MEDIA_CONN_TTL_S),
    auth_ttl: String(MEDIA_AUTH_TTL_S),
    max_buckets: '12',
  },
  content: sim.mediaHost
    ? [
        {
          tag: 'host',
          attrs: { hostname: sim.mediaHost, type: 'primary', maxContentLengthBytes: String(MAX_MEDIA_BYTES) },
        },
      ]
    : [],
});

const encrypt = (
  sim: Simulator,
  account: Account,
  device: LinkedDevice,
  iq: BinaryNode,
  first: BinaryNode | undefined,
): BinaryNode[] | undefined => {
  if (iq.attrs.type === 'get' && first?.tag === 'count') {
    return [{ tag: 'count', attrs: { value: String(device.preKeys.size) } }];
  }
  if (iq.attrs.type === 'get' && first?.tag === 'digest') {
    // The digest check is the last step of login; a new device then gets its history sync.
    if (!device.historySent && device.preKeys.size > 0) {
      device.historySent = true;
      sim.world.changed();
      void sendHistorySync(sim, account, device);
    }
    return [{ tag: 'digest', attrs: {} }];
  }
  if (iq.attrs.type === 'get' && first?.tag === 'key') {
    const users = children(first).flatMap((u) => {
      const jid = u.attrs.jid;
      const bundle = jid ? bundleFor(sim, jid) : undefined;
      return jid && bundle ? [bundleNode(jid, bundle)] : [];
    });
    return [{ tag: 'list', attrs: {}, content: users }];
  }
  if (iq.attrs.type === 'set') {
    // Pre-key upload (registration, identity, list of keys, skey) or a signed pre-key rotation.
    for (const key of children(child(iq, 'list'))) {
      const id = uintBE(childBytes(key, 'id'));
      const value = childBytes(key, 'value');
      if (id !== undefined && value?.length === 32) device.preKeys.set(id, value);
    }
    const skey = child(iq, 'skey') ?? child(child(iq, 'rotate'), 'skey');
    const skeyId = uintBE(childBytes(skey, 'id'));
    const skeyValue = childBytes(skey, 'value');
    const skeySig = childBytes(skey, 'signature');
    if (skeyId !== undefined && skeyValue && skeySig) {
      device.signedPreKey = { keyId: skeyId, publicKey: skeyValue, signature: skeySig };
    }
    sim.world.changed();
  }
  return undefined;
};

/** The bundle for a device JID (PN or LID; no device means the phone, device 0). */
const bundleFor = (sim: Simulator, jid: string): PreKeyBundle | undefined => {
  const decoded = jidDecode(jid);
  if (!decoded?.user) return undefined;
  const account = sim.world.find(decoded.user, decoded.server === 'lid' ? 'lid' : 's.whatsapp.net');
  if (!account) return undefined;
  const deviceId = decoded.device ?? 0;
  sim.keyFetches++;
  if (deviceId === 0) return account.device0.bundle();
  const linked = account.devices.get(deviceId);
  if (!linked) return undefined;
  const bundle = sim.world.linkedDeviceBundle(linked);
  if (linked.preKeys.size < 5) sim.preKeysLow(linked);
  return bundle;
};

const bundleNode = (jid: string, b: PreKeyBundle): BinaryNode => ({
  tag: 'user',
  attrs: { jid },
  content: [
    { tag: 'registration', attrs: {}, content: bigEndian(b.registrationId, 4) },
    { tag: 'type', attrs: {}, content: Buffer.from([5]) },
    { tag: 'identity', attrs: {}, content: b.identityKey },
    {
      tag: 'skey',
      attrs: {},
      content: [
        { tag: 'id', attrs: {}, content: bigEndian(b.signedPreKey.keyId, 3) },
        { tag: 'value', attrs: {}, content: b.signedPreKey.publicKey },
        { tag: 'signature', attrs: {}, content: b.signedPreKey.signature },
      ],
    },
    ...(b.preKey
      ? [
          {
            tag: 'key',
            attrs: {},
            content: [
              { tag: 'id', attrs: {}, content: bigEndian(b.preKey.keyId, 3) },
              { tag: 'value', attrs: {}, content: b.preKey.publicKey },
            ],
          },
        ]
      : []),
  ],
});

/** USync: devices (phone plus linked devices), LIDs and "is on WhatsApp" for each user asked about. */
const usync = (sim: Simulator, usyncNode: BinaryNode | undefined): BinaryNode[] => {
  const protocols = children(child(usyncNode, 'query')).map((p) => p.tag);
  const users = children(child(usyncNode, 'list')).map((user) => {
    const contact = child(user, 'contact');
    const phoneText = contact ? bytes(contact)?.toString('utf8') : undefined;
    const jid = user.attrs.jid ?? `${(phoneText ?? '').replace(/^\+/, '')}@s.whatsapp.net`;
    const decoded = jidDecode(jid);
    const server = decoded?.server === 'lid' ? 'lid' : 's.whatsapp.net';
    const onWhatsApp = server === 'lid' || isOnWhatsApp(decoded?.user ?? '');
    const account = onWhatsApp
      ? server === 'lid'
        ? sim.world.find(decoded?.user ?? '', 'lid')
        : sim.world.account(decoded?.user ?? '')
      : undefined;
    const content: BinaryNode[] = [];
    for (const protocol of protocols) {
      if (protocol === 'contact') {
        content.push({ tag: 'contact', attrs: { type: account ? 'in' : 'out' } });
      } else if (protocol === 'devices') {
        const devices = account
          ? [
              { tag: 'device', attrs: { id: '0' } },
              ...[...account.devices.values()].map((d) => ({
                tag: 'device',
                attrs: { id: String(d.id), 'key-index': String(d.keyIndex) },
              })),
            ]
          : [];
        content.push({
          tag: 'devices',
          attrs: {},
          content: [{ tag: 'device-list', attrs: {}, content: devices }],
        });
      } else if (protocol === 'lid' && account) {
        content.push({ tag: 'lid', attrs: { val: `${account.lid}@lid` } });
      }
    }
    return { tag: 'user', attrs: { jid }, content };
  });
  return [
    {
      tag: 'usync',
      attrs: { sid: usyncNode?.attrs.sid ?? '', mode: 'query', last: 'true', index: '0' },
      content: [{ tag: 'list', attrs: {}, content: users }],
    },
  ];
};
