// One configuration per process: the stack's settings extend the edge's, so every variable the edge
// documents works under `npm start` too, and a bad one is reported once, by name, never by value.
import { describe, expect, it } from 'vitest';
import { parseEdgeConfig } from '../../edge/config.js';
import { EdgeEnvSchema, edgeConfigFrom } from '../../edge/entries/env.js';
import { parseConfig, StackConfigSchema } from '../../node-runtime/config.js';
import { ConfigError } from '../../node-runtime/startup-error.js';
import { generateSecretKey } from '../../shared/webhook-secrets.js';

const SECRET = 'config-secret-config-secret-config-0123';
const KEY = generateSecretKey();

describe('the stack configuration', () => {
  it('takes every edge variable and hands it to the edge', () => {
    const env = {
      EDGE_CLIENT_ADDRESS_HEADER: 'x-forwarded-for',
      EDGE_CLIENT_ADDRESS_HOPS: '2',
      EDGE_KEY_CACHE_TTL_MS: '1500',
      EDGE_LAST_USED_FLUSH_SECONDS: '7',
      EDGE_FAILED_AUTH_LIMIT: '9',
      EDGE_SEND_PER_SESSION_PER_SECOND: '3',
      EDGE_SEND_PER_SESSION_BURST: '4',
      EDGE_SEND_PER_TENANT_PER_SECOND: '30',
      EDGE_SEND_PER_TENANT_BURST: '40',
      WEBHOOK_SECRET_KEY: KEY,
      WEBHOOK_ALLOW_PRIVATE: 'true',
    };
    // Nothing the edge reads is left out here.
    expect(Object.keys(env).sort()).toEqual(
      Object.keys(EdgeEnvSchema.shape)
        .filter((name) => name !== 'EDGE_HOST_SECRET')
        .sort(),
    );
    const stack = parseConfig(StackConfigSchema, env);
    const edge = parseEdgeConfig(edgeConfigFrom({ ...stack, EDGE_HOST_SECRET: SECRET }));
    expect(edge.clientAddress).toEqual({ header: 'x-forwarded-for', hops: 2 });
    expect(edge.keyCache.ttlMs).toBe(1500);
    expect(edge.lastUsed.flushSeconds).toBe(7);
    expect(edge.rateLimits.failedAuth.limit).toBe(9);
    expect(edge.rateLimits.sendPerSession).toEqual({ perSecond: 3, burst: 4 });
    expect(edge.rateLimits.sendPerTenant).toEqual({ perSecond: 30, burst: 40 });
    expect(edge.webhooks).toEqual({ secretKey: KEY, allowPrivate: true });
  });

  it('reports every bad variable by name and never echoes a value', () => {
    const secretLooking = 'short-api-key-value';
    let error: unknown;
    try {
      parseConfig(StackConfigSchema, {
        PORT: 'eighty',
        API_KEY: secretLooking,
        EDGE_SEND_PER_SESSION_BURST: 'x',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual([
      'API_KEY',
      'EDGE_SEND_PER_SESSION_BURST',
      'PORT',
    ]);
    expect(problems.join('\n')).not.toContain(secretLooking);
  });
});
