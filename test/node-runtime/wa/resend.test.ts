// What a recipient's retry receipt gets again: a message this session sent, rebuilt from the store as
// Baileys built it, and nothing for one that never left, was deleted, came in, or is another session's.
import { generateWAMessage, proto } from '@whiskeysockets/baileys';
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { resentMessage, sentRowOf } from '../../../node-runtime/wa/resend.js';
import type { MessagesTable } from '../../../shared/db-schema.js';
import { insertTenantSession, useTestDatabase } from '../../helpers/postgres.js';

const database = useTestDatabase();
const CHAT = '628100000001@s.whatsapp.net';
const ME = '628100000009:3@s.whatsapp.net';
let tenantId: string;
let sessionId: string;
let otherSessionId: string;

const insert = async (
  id: string,
  fields: Partial<Pick<MessagesTable, 'session_id' | 'direction' | 'kind' | 'text' | 'status'>> & {
    content?: Record<string, unknown>;
  } = {},
) => {
  const { content, ...rest } = fields;
  await database()
    .db.insertInto('messages')
    .values({
      session_id: sessionId,
      id,
      tenant_id: tenantId,
      direction: 'out',
      chat_jid: CHAT,
      chat_lid: null,
      sender_jid: null,
      sender_lid: null,
      kind: 'text',
      text: id,
      sent_at: new Date(),
      status: 'sent',
      status_at: new Date(),
      failure: null,
      source: 'api',
      ...rest,
      ...(content ? { content: sql`${JSON.stringify(content)}::text::jsonb` } : {}),
    })
    .execute();
};

const resent = async (id: string) => {
  const row = await sentRowOf(database().db, sessionId, id);
  return row && resentMessage(row, id, ME);
};

/** What Baileys builds for the same content, without the random parts (the reporting secret). */
const asBaileysBuilds = async (content: Parameters<typeof generateWAMessage>[1]) => {
  const built = await generateWAMessage(CHAT, content, {
    userJid: ME,
    upload: () => Promise.reject(new Error('no upload')),
  });
  return comparable(built.message);
};
const comparable = (message: proto.IMessage | null | undefined) => {
  const plain = proto.Message.toObject(proto.Message.create(message ?? {}), { longs: Number, bytes: String });
  delete plain.messageContextInfo;
  // A reaction says when it was made (Baileys takes the clock's time): the copy's own time.
  if (plain.reactionMessage) plain.reactionMessage.senderTimestampMs = expect.any(Number);
  return plain;
};

beforeAll(async () => {
  ({ tenantId, sessionId } = await insertTenantSession(database().db, 't', 's'));
  ({ sessionId: otherSessionId } = await insertTenantSession(database().db, 't2', 's2'));
});

describe('a message this session sent', () => {
  it('a text, a location, a contact card and a reaction come back as Baileys built them', async () => {
    await insert('text-1', { text: 'hello', status: 'delivered' });
    expect(comparable(await resent('text-1'))).toEqual(await asBaileysBuilds({ text: 'hello' }));
    const location = { latitude: -6.1754, longitude: 106.8272, name: 'Monas' };
    await insert('loc-1', { kind: 'location', text: null, content: { location } });
    expect(comparable(await resent('loc-1'))).toEqual(
      await asBaileysBuilds({
        location: { degreesLatitude: -6.1754, degreesLongitude: 106.8272, name: 'Monas' },
      }),
    );
    const vcard = 'BEGIN:VCARD\nVERSION:3.0\nFN:Budi\nEND:VCARD';
    await insert('card-1', {
      kind: 'contact',
      text: null,
      content: { contact: { displayName: 'Budi', vcard } },
    });
    expect(comparable(await resent('card-1'))).toEqual(
      await asBaileysBuilds({
        contacts: { displayName: 'Budi', contacts: [{ displayName: 'Budi', vcard }] },
      }),
    );
    const reaction = { messageId: 'text-1', emoji: '👍', fromMe: true, chat: CHAT };
    await insert('react-1', { kind: 'reaction', text: null, content: { reaction } });
    expect(comparable(await resent('react-1'))).toEqual(
      await asBaileysBuilds({ react: { text: '👍', key: { remoteJid: CHAT, fromMe: true, id: 'text-1' } } }),
    );
  });

  it('a reply with mentions quotes what it answered', async () => {
    const replyTo = { id: 'text-1', fromMe: true, chat: CHAT, text: 'hello' };
    await insert('reply-1', {
      text: 'see @Budi',
      content: { replyTo, mentions: ['6281234567890@s.whatsapp.net'] },
    });
    const message = await resent('reply-1');
    expect(message?.extendedTextMessage).toMatchObject({
      text: 'see @Budi',
      contextInfo: {
        stanzaId: 'text-1',
        participant: '628100000009@s.whatsapp.net',
        quotedMessage: { conversation: 'hello' },
        mentionedJid: ['6281234567890@s.whatsapp.net'],
      },
    });
  });

  it('a file names its first upload (path and keys), with its caption; none before it went up', async () => {
    const media = { id: 'f1', mimetype: 'image/png', size: 2048 };
    const download = {
      type: 'image',
      directPath: '/v/t62/abc',
      url: 'https://mmg.example/v/t62/abc',
      mediaKey: Buffer.alloc(32, 1).toString('base64'),
      fileSha256: Buffer.alloc(32, 2).toString('base64'),
      fileEncSha256: Buffer.alloc(32, 3).toString('base64'),
    };
    await insert('img-1', { kind: 'image', text: 'the map', content: { media, download } });
    expect((await resent('img-1'))?.imageMessage).toMatchObject({
      url: download.url,
      directPath: download.directPath,
      mediaKey: Buffer.alloc(32, 1),
      fileSha256: Buffer.alloc(32, 2),
      fileEncSha256: Buffer.alloc(32, 3),
      fileLength: 2048,
      mimetype: 'image/png',
      caption: 'the map',
    });
    const doc = { id: 'f2', mimetype: 'application/pdf', size: 10, fileName: 'a.pdf' };
    await insert('doc-1', { kind: 'document', text: null, content: { media: doc, download } });
    expect((await resent('doc-1'))?.documentMessage).toMatchObject({
      fileName: 'a.pdf',
      mimetype: 'application/pdf',
    });
    await insert('img-2', { kind: 'image', text: null, status: 'queued', content: { media } });
    expect(await resent('img-2')).toBeUndefined();
  });
});

describe('nothing is sent again', () => {
  it('for a message that failed or was cancelled, was deleted for everyone, came in, or is unknown', async () => {
    await insert('failed-1', { status: 'failed' });
    await insert('cancelled-1', { status: 'cancelled' });
    await insert('deleted-1', { text: null, content: { deletedAt: new Date().toISOString() } });
    await insert('in-1', { direction: 'in', status: null });
    for (const id of ['failed-1', 'cancelled-1', 'deleted-1', 'in-1', 'never-sent']) {
      expect(await sentRowOf(database().db, sessionId, id), id).toBeUndefined();
    }
  });

  it("for another session's message under the same id", async () => {
    await insert('theirs-1', { session_id: otherSessionId });
    expect(await sentRowOf(database().db, sessionId, 'theirs-1')).toBeUndefined();
    expect(await sentRowOf(database().db, otherSessionId, 'theirs-1')).toMatchObject({ text: 'theirs-1' });
  });
});
