// The host's internal API refuses what does not fit the route declarations in shared/host-api.ts before
// any session is touched. A real host (startHost) on the file's database; no WhatsApp connection is ever
// made, since no session starts.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningHost, startHost } from '../../../node-runtime/host/server.js';
import { hostChannels } from '../../../node-runtime/host-calls/client.js';
import { HOST_HEALTH_PATH, hostSessionPath } from '../../../shared/host-api.js';
import { signHostToken } from '../../../shared/jwt.js';
import { useTestDatabase } from '../../helpers/postgres.js';

const SECRET = 'internal-api-test-secret-0123456789abcdef';
const HOST_ID = 'host-validation';
const SESSION_ID = '00000000-0000-4000-8000-000000000001';
const database = useTestDatabase();
let host: RunningHost;

beforeAll(async () => {
  host = await startHost({
    db: database().db,
    hostId: HOST_ID,
    port: 0,
    secret: SECRET,
    // Nothing listens there: a session that started would fail loudly, and none should start.
    wa: { wsUrl: 'ws://127.0.0.1:1' },
    logger: pino({ level: 'silent' }),
  });
});

afterAll(async () => {
  await host?.close();
});

const token = () =>
  signHostToken({
    secret: SECRET,
    hostId: HOST_ID,
    tenantId: '00000000-0000-4000-8000-000000000002',
    sessionId: SESSION_ID,
    scope: 'session',
    ttlSeconds: 30,
  });

async function send(body: string | undefined, contentType: string | null = 'application/json') {
  const headers = new Headers({ authorization: `Bearer ${await token()}` });
  if (contentType) headers.set('content-type', contentType);
  const response = await fetch(host.url + hostSessionPath(SESSION_ID, 'send'), {
    method: 'POST',
    headers,
    body,
  });
  return { status: response.status, body: (await response.json()) as { code?: string } };
}

describe('POST send refuses a body that is not HostSendBody', () => {
  it.each([
    ['a number instead of a JID', JSON.stringify({ to: '6281234567890', message: 'x' })],
    ['no message', JSON.stringify({ to: '6281234567890@s.whatsapp.net' })],
    ['an empty message', JSON.stringify({ to: '6281234567890@s.whatsapp.net', message: '' })],
    ['an array', JSON.stringify([])],
  ])('%s: 400 VALIDATION_ERROR, and no session is touched', async (_, body) => {
    expect(await send(body)).toEqual({
      status: 400,
      body: expect.objectContaining({ code: 'VALIDATION_ERROR' }),
    });
    expect(host.sessions.size).toBe(0);
  });

  it('no body at all: 400 VALIDATION_ERROR', async () => {
    expect((await send(undefined, null)).body.code).toBe('VALIDATION_ERROR');
    expect(host.sessions.size).toBe(0);
  });

  it('malformed JSON: 400 INVALID_JSON', async () => {
    expect(await send('{"to":', 'application/json')).toEqual({
      status: 400,
      body: expect.objectContaining({ code: 'INVALID_JSON' }),
    });
    expect(host.sessions.size).toBe(0);
  });

  it('checks the token before the body', async () => {
    const response = await fetch(host.url + hostSessionPath(SESSION_ID, 'send'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { code: string }).code).toBe('INVALID_HOST_TOKEN');
  });
});

it('answers its health route without a token, as declared', async () => {
  const response = await fetch(host.url + HOST_HEALTH_PATH);
  expect({ status: response.status, body: await response.json() }).toEqual({
    status: 200,
    body: { hostId: HOST_ID, sessions: 0 },
  });
});

describe("over the edge's call channel, the host checks what it checks over HTTP", () => {
  // HTTP is not there to fall back on: every call below goes over the channel.
  const channels = () =>
    hostChannels(
      async () => {
        throw new Error('called over HTTP');
      },
      { connectTimeoutMs: 1_000 },
    );
  const over = async (
    channel: ReturnType<typeof channels>,
    headers: Record<string, string>,
    body: string,
  ) => {
    const answer = await channel.transport({
      url: host.url + hostSessionPath(SESSION_ID, 'send'),
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
      timeoutMs: 5_000,
    });
    return { status: answer.status, body: JSON.parse(await answer.read()) as { code?: string } };
  };

  it('no token, or one signed with another secret: 401, and no session is touched', async () => {
    const channel = channels();
    expect(await over(channel, {}, '{}')).toEqual({
      status: 401,
      body: expect.objectContaining({ code: 'INVALID_HOST_TOKEN' }),
    });
    const forged = await signHostToken({
      secret: 'another-secret-0123456789abcdef-0123456789',
      hostId: HOST_ID,
      tenantId: '00000000-0000-4000-8000-000000000002',
      sessionId: SESSION_ID,
      scope: 'session',
      ttlSeconds: 30,
    });
    expect((await over(channel, { authorization: `Bearer ${forged}` }, '{}')).status).toBe(401);
    expect(host.sessions.size).toBe(0);
    await channel.close();
  });

  it('a body that is not HostSendBody: 400 VALIDATION_ERROR, as over HTTP', async () => {
    const channel = channels();
    const body = JSON.stringify({ to: '6281234567890', message: 'x' });
    expect(await over(channel, { authorization: `Bearer ${await token()}` }, body)).toEqual({
      status: 400,
      body: expect.objectContaining({ code: 'VALIDATION_ERROR' }),
    });
    expect(await over(channel, { authorization: `Bearer ${await token()}` }, '{"to":')).toEqual({
      status: 400,
      body: expect.objectContaining({ code: 'INVALID_JSON' }),
    });
    expect(host.sessions.size).toBe(0);
    await channel.close();
  });
});
