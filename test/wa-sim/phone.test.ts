// The simulated phone's Signal sessions behave as libsignal's do on a real phone.
import { describe, expect, it } from 'vitest';
import { newKeyPair } from './certificates.js';
import { Phone } from './phone.js';

describe('a phone answering a retry receipt that carries the device keys', () => {
  it('opens a new session and keeps the old one: a message the peer sent on it before still decrypts', async () => {
    const phone = new Phone(newKeyPair());
    const device = new Phone(newKeyPair());
    const first = await phone.encrypt('device.0', { conversation: 'hello' }, () => device.bundle());
    expect(await device.decrypt('phone.0', first.type, first.ciphertext)).toMatchObject({
      conversation: 'hello',
    });
    const reply = await device.encrypt('phone.0', { conversation: 'hi' }, () => undefined);
    expect(await phone.decrypt('device.0', reply.type, reply.ciphertext)).toMatchObject({
      conversation: 'hi',
    });
    // The device sends once more on that session; the phone gets it after it answered the retry.
    const inFlight = await device.encrypt('phone.0', { conversation: 'in flight' }, () => undefined);
    expect(inFlight.type).toBe('msg');
    const again = await phone.encrypt('device.0', { conversation: 'hello' }, () => device.bundle(), true);
    expect(again.type).toBe('pkmsg');
    expect(await phone.decrypt('device.0', inFlight.type, inFlight.ciphertext)).toMatchObject({
      conversation: 'in flight',
    });
    expect(await device.decrypt('phone.0', again.type, again.ciphertext)).toMatchObject({
      conversation: 'hello',
    });
  });
});

describe('a phone that fails to decrypt a message', () => {
  it('keeps its session as it was: a forged copy does not use up the key of the real one', async () => {
    const phone = new Phone(newKeyPair());
    const device = new Phone(newKeyPair());
    const first = await device.encrypt('phone.0', { conversation: 'hello' }, () => phone.bundle());
    await phone.decrypt('device.0', first.type, first.ciphertext);
    const reply = await phone.encrypt('device.0', { conversation: 'hi' }, () => undefined);
    await device.decrypt('phone.0', reply.type, reply.ciphertext);
    const real = await device.encrypt('phone.0', { conversation: 'real' }, () => undefined);
    expect(real.type).toBe('msg');
    // The same counter and ratchet key, a MAC that does not match: libsignal takes the message key out of
    // the chain before it checks the MAC.
    const forged = Buffer.from(real.ciphertext);
    forged[forged.length - 1] = (forged.at(-1) ?? 0) ^ 0xff;
    await expect(phone.decrypt('device.0', 'msg', forged)).rejects.toThrow();
    expect(await phone.decrypt('device.0', real.type, real.ciphertext)).toMatchObject({
      conversation: 'real',
    });
  });
});
