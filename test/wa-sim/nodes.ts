import type { BinaryNode } from '@whiskeysockets/baileys';

/** Helpers for reading and writing binary nodes; attribute values must be strings on the wire. */
export const children = (node: BinaryNode | undefined): BinaryNode[] =>
  Array.isArray(node?.content) ? node.content : [];

export const child = (node: BinaryNode | undefined, tag: string) => children(node).find((c) => c.tag === tag);

export const bytes = (node: BinaryNode | undefined): Buffer | undefined => {
  const c = node?.content;
  if (c instanceof Uint8Array) return Buffer.from(c);
  if (typeof c === 'string') return Buffer.from(c, 'utf8');
  return undefined;
};

export const childBytes = (node: BinaryNode | undefined, tag: string) => bytes(child(node, tag));

export const uintBE = (buf: Buffer | undefined) => (buf?.length ? buf.readUIntBE(0, buf.length) : undefined);

export const bigEndian = (n: number, size: number) => {
  const b = Buffer.alloc(size);
  b.writeUIntBE(n, 0, size);
  return b;
};

export const unixTime = () => String(Math.floor(Date.now() / 1000));

export const SERVER_JID = '@s.whatsapp.net';

/** A server reply to a client iq. */
export const iqResult = (request: BinaryNode, content?: BinaryNode[]): BinaryNode => ({
  tag: 'iq',
  attrs: { id: request.attrs.id ?? '', type: 'result', from: SERVER_JID },
  content,
});

/** A server's refusal of a client iq, as WhatsApp sends them (`<error code text/>`). */
export const iqError = (request: BinaryNode, code: number, text: string): BinaryNode => ({
  tag: 'iq',
  attrs: { id: request.attrs.id ?? '', type: 'error', from: SERVER_JID },
  content: [{ tag: 'error', attrs: { code: String(code), text } }],
});
