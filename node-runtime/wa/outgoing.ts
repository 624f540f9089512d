// A queued message as Baileys sends it: the content object of `sendMessage` for each kind of
// shared/message-content.ts, and the message it quotes.
import type { AnyMessageContent, MiscMessageGenerationOptions, proto } from '@whiskeysockets/baileys';
import type { OutgoingContent } from '../../shared/message-content.js';

/** What the outbox hands the socket: the row's kind, text and content, and a file's bytes. */
export type Outgoing = { kind: string; text: string | null; content: OutgoingContent; file?: Buffer };

/** The file a kind needs is missing (swept, or never stored): the message cannot be sent. */
export class MissingFileError extends Error {
  override name = 'MissingFileError';
}

/** `sendMessage`'s content and options (the quoted message) for a queued message. */
export function baileysMessage(outgoing: Outgoing): {
  content: AnyMessageContent;
  options: MiscMessageGenerationOptions;
} {
  const { kind, text, content, file } = outgoing;
  const mentions = content.mentions?.length ? { mentions: content.mentions } : {};
  const options: MiscMessageGenerationOptions = content.replyTo
    ? { quoted: quotedMessage(content.replyTo) }
    : {};
  const caption = text ? { caption: text } : {};
  const media = content.media;
  const needFile = () => {
    if (!file || !media) throw new MissingFileError(`the ${kind} file of this message is no longer stored`);
    return { file, mimetype: media.mimetype };
  };
  switch (kind) {
    case 'image': {
      const { file, mimetype } = needFile();
      return { content: { image: file, mimetype, ...caption, ...mentions }, options };
    }
    case 'video': {
      const { file, mimetype } = needFile();
      return { content: { video: file, mimetype, ...caption, ...mentions }, options };
    }
    case 'audio': {
      const { file, mimetype } = needFile();
      return { content: { audio: file, mimetype, ptt: media?.ptt ?? false, ...mentions }, options };
    }
    case 'document': {
      const { file, mimetype } = needFile();
      const fileName = media?.fileName ?? 'file';
      return { content: { document: file, mimetype, fileName, ...caption, ...mentions }, options };
    }
    case 'sticker': {
      const { file, mimetype } = needFile();
      return { content: { sticker: file, mimetype, ...mentions }, options };
    }
    case 'location': {
      const l = content.location;
      const location = {
        degreesLatitude: l?.latitude ?? 0,
        degreesLongitude: l?.longitude ?? 0,
        ...(l?.name ? { name: l.name } : {}),
        ...(l?.address ? { address: l.address } : {}),
      };
      return { content: { location, ...mentions }, options };
    }
    case 'contact': {
      const c = content.contact;
      const card = { displayName: c?.displayName ?? '', vcard: c?.vcard ?? '' };
      return { content: { contacts: { displayName: card.displayName, contacts: [card] } }, options };
    }
    case 'reaction': {
      const r = content.reaction;
      const key: proto.IMessageKey = { remoteJid: r?.chat, fromMe: r?.fromMe ?? false, id: r?.messageId };
      return { content: { react: { text: r?.emoji ?? '', key } }, options: {} };
    }
    default:
      return { content: { text: text ?? '', ...mentions }, options };
  }
}

/**
 * The message a reply quotes, as Baileys builds `contextInfo` from it: its key (Baileys names the
 * author: the account itself when `fromMe`, else the chat's other party) and its text. The store keeps
 * text, not the whole message, so a quoted file shows as its caption.
 */
export function quotedMessage(
  replyTo: NonNullable<OutgoingContent['replyTo']>,
): NonNullable<MiscMessageGenerationOptions['quoted']> {
  return {
    key: { remoteJid: replyTo.chat, fromMe: replyTo.fromMe, id: replyTo.id },
    message: { conversation: replyTo.text ?? '' },
  };
}
