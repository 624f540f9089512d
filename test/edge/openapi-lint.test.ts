// The OpenAPI document at /openapi.json passes Redocly's recommended rules with no error, and every
// operation has an operationId (generated clients name their methods by it).
import { createConfig, lintFromString } from '@redocly/openapi-core';
import { describe, expect, it } from 'vitest';
import { createEdgeApp } from '../../edge/app.js';
import { clientRoutes } from '../../edge/client.js';
import { silentLogger } from '../../edge/logger.js';
import { useEdge } from './fixture.js';
import { HOST_SECRET } from './helpers.js';

const fx = useEdge({ hosts: [], tenants: [] });

const documentText = async () => {
  const app = createEdgeApp({ hostSecret: HOST_SECRET, db: { open: () => fx().db }, logger: silentLogger });
  return (await app.request('/openapi.json')).text();
};

describe('the OpenAPI document', () => {
  it("passes Redocly's recommended lint with no error", async () => {
    const problems = await lintFromString({
      source: await documentText(),
      absoluteRef: 'openapi.json',
      config: await createConfig({ extends: ['recommended'] }),
    });
    const errors = problems
      .filter((p) => p.severity === 'error')
      .map((p) => `${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`);
    expect(errors).toEqual([]);
    // Warnings too, but for the licence this private project does not state.
    expect(problems.filter((p) => p.ruleId !== 'info-license').map((p) => p.ruleId)).toEqual([]);
  });

  it('names every operation, says where it is served, and lists the 400 every route can answer', async () => {
    type Operation = { operationId?: string; security?: unknown[]; responses: Record<string, unknown> };
    const doc = JSON.parse(await documentText()) as {
      servers?: { url: string }[];
      security?: unknown[];
      paths: Record<string, Record<string, Operation>>;
    };
    expect(doc.servers).toEqual([{ url: '/', description: 'This gateway' }]);
    const operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({ at: `${method.toUpperCase()} ${path}`, ...op })),
    );
    expect(operations.length).toBeGreaterThan(40);
    const ids = operations.map((op) => op.operationId);
    expect(ids.filter((id) => !id)).toEqual([]);
    expect(new Set(ids).size).toBe(ids.length);
    // An API key in the query string is refused on every route, before anything else (400 API_KEY_IN_QUERY).
    expect(operations.filter((op) => !op.responses['400']).map((op) => op.at)).toEqual([]);
    // Routes that take a key say what a missing or wrong one gets; the public ones say they need none.
    const keyed = operations.filter((op) => (op.security ?? doc.security ?? []).length > 0);
    expect(keyed.filter((op) => !op.responses['401'] || !op.responses['403']).map((op) => op.at)).toEqual([]);
    const open = operations.filter((op) => op.security?.length === 0).map((op) => op.at);
    expect(open.sort()).toEqual(['GET /', 'GET /health']);
  });

  it('the typed client (edge/client.ts) has every route of the API', () => {
    const app = createEdgeApp({ hostSecret: HOST_SECRET, db: { open: () => fx().db }, logger: silentLogger });
    const of = (routes: { method: string; path: string }[]) =>
      new Set(
        routes
          .filter((r) => r.method !== 'ALL' && r.path.startsWith('/api/'))
          .map((r) => `${r.method} ${r.path}`),
      );
    expect(of(clientRoutes().routes)).toEqual(of(app.routes));
  });
});
