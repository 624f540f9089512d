import { describe, expect, it } from 'vitest';
import {
  classifyDisconnect,
  closeDetailsOf,
  type Disconnect,
  QR_REFS_ENDED,
} from '../../../node-runtime/session/disconnect.js';

describe('classifyDisconnect', () => {
  // Each row is a close Baileys 7.0.0-rc14 can really produce (message as Baileys writes it).
  it.each<[number | undefined, string, Disconnect]>([
    [401, 'Connection Failure', { kind: 'permanent', reason: 'logged-out' }],
    [401, 'Stream Errored (conflict)', { kind: 'permanent', reason: 'logged-out' }],
    [401, 'Intentional Logout', { kind: 'permanent', reason: 'logged-out' }],
    [402, 'Connection Failure', { kind: 'permanent', reason: 'temporarily-banned' }],
    [403, 'Connection Failure', { kind: 'permanent', reason: 'forbidden' }],
    [405, 'Connection Failure', { kind: 'permanent', reason: 'client-outdated' }],
    [406, 'Connection Failure', { kind: 'permanent', reason: 'banned' }],
    [409, 'Connection Failure', { kind: 'permanent', reason: 'bad-user-agent' }],
    [411, 'Multi-device beta not joined', { kind: 'permanent', reason: 'multidevice-mismatch' }],
    [440, 'Stream Errored (conflict)', { kind: 'permanent', reason: 'replaced' }],
    [408, QR_REFS_ENDED, { kind: 'permanent', reason: 'qr-expired' }],
    [408, 'Connection was lost', { kind: 'transient', reason: 'timed-out' }],
    [408, 'Timed Out', { kind: 'transient', reason: 'timed-out' }],
    [
      408,
      'WebSocket Error (getaddrinfo ENOTFOUND web.whatsapp.com)',
      { kind: 'transient', reason: 'timed-out' },
    ],
    [428, 'Connection Terminated', { kind: 'transient', reason: 'connection-closed' }],
    [428, 'Connection Terminated by Server', { kind: 'transient', reason: 'connection-closed' }],
    [500, 'Stream Errored (xml-not-well-formed)', { kind: 'transient', reason: 'bad-session' }],
    [500, 'Connection Failure', { kind: 'transient', reason: 'bad-session' }],
    [500, 'WebSocket Error (socket hang up)', { kind: 'transient', reason: 'websocket-error' }],
    [503, 'Stream Errored (unknown)', { kind: 'transient', reason: 'service-unavailable' }],
    [
      503,
      'WebSocket Error (Unexpected server response: 503)',
      { kind: 'transient', reason: 'websocket-error' },
    ],
    // A proxy refusing the upgrade is not WhatsApp banning the account.
    [
      403,
      'WebSocket Error (Unexpected server response: 403)',
      { kind: 'transient', reason: 'websocket-error' },
    ],
    [515, 'Stream Errored (restart required)', { kind: 'restart', reason: 'restart-required' }],
    [undefined, '', { kind: 'transient', reason: 'unknown' }],
    [undefined, 'invalid noise leaf certificate', { kind: 'transient', reason: 'unknown' }],
    [418, 'Connection Failure', { kind: 'transient', reason: 'unknown' }],
  ])('%s %j -> %j', (statusCode, message, expected) => {
    expect(classifyDisconnect({ statusCode, message })).toEqual(expected);
  });

  it('tells the two meanings of 408 apart only by the message', () => {
    expect(classifyDisconnect({ statusCode: 408, message: QR_REFS_ENDED }).reason).toBe('qr-expired');
    expect(classifyDisconnect({ statusCode: 408, message: 'Connection was lost' }).reason).toBe('timed-out');
    // The QR text under another code is not a QR expiry.
    expect(classifyDisconnect({ statusCode: 428, message: QR_REFS_ENDED }).reason).toBe('connection-closed');
  });
});

describe('closeDetailsOf', () => {
  /** Shaped like a Boom, without depending on @hapi/boom. */
  const boom = (message: string, statusCode: number) =>
    Object.assign(new Error(message), { isBoom: true, output: { statusCode, payload: {}, headers: {} } });

  it('reads a Boom', () => {
    expect(closeDetailsOf(boom('QR refs attempts ended', 408))).toEqual({
      statusCode: 408,
      message: 'QR refs attempts ended',
    });
  });

  it('reads a real Baileys close error', async () => {
    // The Boom that Baileys itself builds, through its own dependency.
    const { Boom } = await import('@hapi/boom');
    expect(closeDetailsOf(new Boom('Stream Errored (conflict)', { statusCode: 440 }))).toEqual({
      statusCode: 440,
      message: 'Stream Errored (conflict)',
    });
  });

  it('copes with a plain Error, nothing, or junk', () => {
    expect(closeDetailsOf(new Error('boom'))).toEqual({ statusCode: undefined, message: 'boom' });
    expect(closeDetailsOf(undefined)).toEqual({ statusCode: undefined, message: '' });
    expect(closeDetailsOf({ output: { statusCode: '401' } })).toEqual({ statusCode: undefined, message: '' });
    expect(closeDetailsOf('closed')).toEqual({ statusCode: undefined, message: 'closed' });
  });
});
