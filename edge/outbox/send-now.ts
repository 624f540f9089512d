// `POST /api/send` on top of the outbox: the message is queued like any other, then the edge asks the
// owning host to send it now and waits for WhatsApp's ack (bounded). Whatever happens to the call, the
// message row says where the message stands, and that decides the answer and what its key keeps.
import type { Selectable } from 'kysely';
import type { JsonValue, MessagesTable } from '../../shared/db-schema.js';
import { ApiError, errorBody, toApiError } from '../../shared/errors.js';
import { SEND_FAILURES } from '../../shared/outbox.js';
import type { SendMessageResponse } from '../../shared/schemas.js';
import { dbOf, type EdgeContext } from '../context.js';
import type { Forwarder } from '../hosts/forward.js';
import { HostSendReply, hostError, hostResult } from '../hosts/replies.js';
import {
  cancelUnsent,
  findOutbound,
  isRetryableFailure,
  keepAnswer,
  releaseKey,
  type Sender,
  type StoredAnswer,
} from './queries.js';

/** Where a message stands, as `/api/send` answers it. */
type Standing =
  | { kind: 'sent'; body: SendMessageResponse }
  | { kind: 'failed'; error: ApiError }
  /** It never left and failed for a passing reason: a retry sends it afresh. */
  | { kind: 'retry' }
  /** Still queued (`handedOver`: WhatsApp may have it; it is resent under the same id if need be). */
  | { kind: 'pending' };

const sentBody = (chat: string, id: string, text: string): SendMessageResponse => ({
  success: true,
  result: {
    key: { remoteJid: chat, id, fromMe: true },
    message: { extendedTextMessage: { text } },
  },
});

/** The error a final failure gets (the same ones the host gives when it fails a send itself). */
function failureError(failure: string | null): ApiError {
  if (failure === SEND_FAILURES.notOnWhatsApp) return new ApiError('RECIPIENT_NOT_ON_WHATSAPP');
  if (failure === SEND_FAILURES.notLinked || failure === SEND_FAILURES.loggedOut) {
    return new ApiError('SESSION_NOT_AUTHENTICATED');
  }
  return new ApiError('SEND_FAILED', { details: [{ path: 'failure', message: failure ?? 'unknown' }] });
}

function standingOf(message: Selectable<MessagesTable>): Standing {
  switch (message.status) {
    case 'sent':
    case 'delivered':
    case 'read':
    case 'played':
      return { kind: 'sent', body: sentBody(message.chat_jid, message.id, message.text ?? '') };
    case 'failed':
    case 'cancelled':
      return isRetryableFailure(message)
        ? { kind: 'retry' }
        : { kind: 'failed', error: failureError(message.failure) };
    default:
      return { kind: 'pending' };
  }
}

/** The `failure` of a message the host refused for good. */
const failureOf = (error: ApiError): string =>
  error.code === 'RECIPIENT_NOT_ON_WHATSAPP'
    ? SEND_FAILURES.notOnWhatsApp
    : error.code === 'SESSION_NOT_AUTHENTICATED'
      ? SEND_FAILURES.notLinked
      : `refused: ${error.code}`;

const errorAnswer = (error: ApiError): StoredAnswer => ({
  status: error.status,
  body: errorBody(error) as unknown as JsonValue,
});

/**
 * Sends the queued message `id` now and answers for it: the seed's 200 once WhatsApp has it, the error
 * that failed it for good, or a retryable 5xx (then the key is let go: a retry with it sends afresh if the
 * message never left, or waits for the same message if it may have).
 */
export async function sendNow(
  c: EdgeContext,
  forwarder: Forwarder,
  sender: Sender,
  message: { id: string; resumed: boolean; key: string | undefined; to: string; text: string },
  now: () => Date,
): Promise<Response> {
  const db = dbOf(c);
  const keep = async (answer: StoredAnswer) => {
    if (message.key) await keepAnswer(db, sender.sessionId, message.key, answer);
  };
  const settled = async (standing: Standing): Promise<Response | undefined> => {
    if (standing.kind === 'sent') {
      await keep({ status: 200, body: standing.body });
      return c.json(standing.body, 200);
    }
    if (standing.kind === 'failed') {
      await keep(errorAnswer(standing.error));
      throw standing.error;
    }
    return undefined;
  };

  if (message.resumed) {
    // A request with this key died before answering; the message may have gone meanwhile.
    const found = await findOutbound(db, sender.sessionId, message.id);
    const answered = found && (await settled(standingOf(found)));
    if (answered) return answered;
  }

  let refused: ApiError;
  let definitive = false;
  try {
    const reply = await forwarder.toSessionHost(c, {
      action: 'send',
      body: { messageId: message.id, fresh: !message.resumed },
    });
    if (reply.status >= 200 && reply.status < 300) {
      hostResult(reply, HostSendReply, 'send'); // a body the host should not send is our 500
      const body = sentBody(message.to, message.id, message.text);
      await keep({ status: 200, body });
      return c.json(body, 200);
    }
    refused = hostError(reply, 'send');
    definitive = refused.status < 500;
  } catch (err) {
    refused = toApiError(err, c.req.raw);
  }
  if (definitive) {
    // The host failed it for good (not linked, not on WhatsApp) and says why: that is the answer. The
    // cancel is for a host that refused without touching the message: it must never go later.
    await cancelUnsent(db, sender, message.id, failureOf(refused), now());
    await keep(errorAnswer(refused));
    throw refused;
  }
  // The host is away, timed out or could not send yet: if the message never left, it never will.
  await cancelUnsent(db, sender, message.id, SEND_FAILURES.unavailable, now());
  const found = await findOutbound(db, sender.sessionId, message.id);
  const standing: Standing = found ? standingOf(found) : { kind: 'retry' };
  const answered = await settled(standing);
  if (answered) return answered;
  if (message.key) await releaseKey(db, sender.sessionId, message.key, standing.kind === 'retry');
  throw refused;
}
