import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { validator } from 'hono/validator';
import { describe, expect, it } from 'vitest';
import {
  ApiError,
  ERROR_CODES,
  ERRORS,
  errorBody,
  errorResponse,
  methodNotAllowed,
  toApiError,
} from '../../shared/errors.js';
import { ErrorResponseSchema } from '../../shared/schemas.js';

describe('error table', () => {
  it('keeps the seed strings and statuses', () => {
    expect(ERRORS.MISSING_API_KEY).toMatchObject({ status: 401, message: 'API key diperlukan' });
    expect(ERRORS.INVALID_API_KEY).toMatchObject({ status: 403, message: 'API key tidak valid' });
    expect(ERRORS.MISSING_PARAMETERS).toMatchObject({
      status: 400,
      message: 'Parameter "to" dan "message" diperlukan',
    });
    expect(ERRORS.SESSION_NOT_AUTHENTICATED).toMatchObject({
      status: 400,
      message: 'Sesi belum terautentikasi. Scan QR code terlebih dahulu.',
    });
    expect(ERRORS.QR_NOT_READY).toMatchObject({
      status: 404,
      message: 'QR code belum tersedia. Coba lagi nanti.',
    });
  });

  it('gives every code an error status and a non-empty message', () => {
    for (const code of ERROR_CODES) {
      const spec = ERRORS[code];
      expect(spec.status).toBeGreaterThanOrEqual(400);
      expect(spec.message.length).toBeGreaterThan(0);
    }
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
  });
});

describe('ApiError', () => {
  it('is an HTTPException with the status of its code', () => {
    const err = new ApiError('SESSION_ID_TAKEN');
    expect(err).toBeInstanceOf(HTTPException);
    expect(err.status).toBe(409);
    expect(err.code).toBe('SESSION_ID_TAKEN');
    expect(err.message).toBe('sessionId sudah digunakan');
  });

  it('renders {success:false, error, code}, plus details only when given', async () => {
    expect(errorBody(new ApiError('MISSING_API_KEY'))).toEqual({
      success: false,
      error: 'API key diperlukan',
      code: 'MISSING_API_KEY',
    });
    const withDetails = new ApiError('VALIDATION_ERROR', { details: [{ path: ['to'] }] });
    expect(errorBody(withDetails)).toEqual({
      success: false,
      error: 'Permintaan tidak valid',
      code: 'VALIDATION_ERROR',
      details: [{ path: ['to'] }],
    });
    const res = withDetails.getResponse();
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(ErrorResponseSchema.parse(await res.json())).toEqual(errorBody(withDetails));
  });

  it('sends Retry-After on 503 and 429, overridable', () => {
    expect(new ApiError('HOST_UNAVAILABLE').getResponse().headers.get('retry-after')).toBe('5');
    const res = errorResponse(new ApiError('RATE_LIMITED', { retryAfterSeconds: 2.2 }));
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('3');
  });

  it('answers 405 with Allow and a message pointing at POST', async () => {
    const res = methodNotAllowed(['POST']).getResponse();
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    const body = (await res.json()) as { error: string; code: string };
    expect(body.code).toBe('METHOD_NOT_ALLOWED');
    expect(body.error).toContain('POST');
  });

  it('asks for the key on 401', () => {
    expect(new ApiError('MISSING_API_KEY').getResponse().headers.get('www-authenticate')).toContain(
      'x-api-key',
    );
  });

  it('never lets a custom message into INTERNAL_ERROR', () => {
    const err = new ApiError('INTERNAL_ERROR', { message: 'password=hunter2 at db.ts:12' });
    expect(errorBody(err).error).toBe('Terjadi kesalahan internal');
  });
});

describe('toApiError', () => {
  it('hides unexpected errors behind a generic 500, keeping the cause for logs', async () => {
    const cause = new Error('connect ECONNREFUSED 10.0.0.7:5432');
    const err = toApiError(cause);
    expect(err.code).toBe('INTERNAL_ERROR');
    expect(err.status).toBe(500);
    expect(err.cause).toBe(cause);
    const text = await err.getResponse().text();
    expect(text).not.toContain('ECONNREFUSED');
    expect(toApiError('a string').code).toBe('INTERNAL_ERROR');
  });

  it('passes ApiErrors through and maps plain HTTPExceptions by status', () => {
    const original = new ApiError('WRONG_SCOPE');
    expect(toApiError(original)).toBe(original);
    expect(toApiError(new HTTPException(413)).code).toBe('BODY_TOO_LARGE');
    expect(toApiError(new HTTPException(400, { message: 'Malformed JSON in request body' })).code).toBe(
      'INVALID_JSON',
    );
    expect(toApiError(new HTTPException(400)).code).toBe('VALIDATION_ERROR');
    expect(toApiError(new HTTPException(418)).code).toBe('INTERNAL_ERROR');
  });

  it('renders what Hono itself throws through one onError', async () => {
    const app = new Hono();
    app.onError((err) => toApiError(err).getResponse());
    app.post(
      '/json',
      bodyLimit({ maxSize: 16 }),
      validator('json', (v) => v),
      (c) => c.json({ ok: true }),
    );
    app.get('/boom', () => {
      throw new Error('secret detail');
    });
    app.get('/scope', () => {
      throw new ApiError('WRONG_SCOPE');
    });

    const malformed = await app.request('/json', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"to":',
    });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ success: false, code: 'INVALID_JSON' });

    const large = await app.request('/json', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'x'.repeat(100) }),
    });
    expect(large.status).toBe(413);
    expect(await large.json()).toMatchObject({ code: 'BODY_TOO_LARGE' });

    const boom = await app.request('/boom');
    expect(boom.status).toBe(500);
    expect(await boom.json()).toEqual({
      success: false,
      error: 'Terjadi kesalahan internal',
      code: 'INTERNAL_ERROR',
    });

    const scope = await app.request('/scope');
    expect(scope.status).toBe(403);
    expect(await scope.json()).toMatchObject({ code: 'WRONG_SCOPE' });
  });

  it('renders correctly even without an onError, through getResponse', async () => {
    const app = new Hono();
    app.get('/', () => {
      throw new ApiError('QR_NOT_READY');
    });
    const res = await app.request('/');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      success: false,
      error: 'QR code belum tersedia. Coba lagi nanti.',
      code: 'QR_NOT_READY',
    });
  });
});
