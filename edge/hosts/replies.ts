// What the edge accepts from a host. Tolerant readers of the shared Host* schemas: a host may send a
// state this edge does not know yet, a push name of null (WhatsApp sends it later), or a LID as the
// recipient JID. A message that was sent must never turn into an error here, or clients send it twice.
import { z } from 'zod';
import {
  HostLogoutResponseSchema,
  HostQrResponseSchema,
  HostSessionStatusSchema,
  type User,
} from '../../shared/schemas.js';

const HostUser = z
  .object({ id: z.string().min(1), name: z.string().nullish() })
  .transform((u): User => (u.name ? { id: u.id, name: u.name } : { id: u.id }));

const state = z.string();

export const HostStatusReply = HostSessionStatusSchema.extend({ state, user: HostUser.optional() });

export const HostQrReply = HostQrResponseSchema.extend({
  state,
  qrPng: z.string().startsWith('data:image/png;base64,').nullish(),
  qr: z.string().nullish(),
  user: HostUser.optional(),
});

export const HostSendReply = z.object({
  key: z.object({ remoteJid: z.string(), id: z.string(), fromMe: z.boolean() }),
  message: z.object({ extendedTextMessage: z.object({ text: z.string() }) }),
});

export const HostLogoutReply = HostLogoutResponseSchema.extend({ state });
