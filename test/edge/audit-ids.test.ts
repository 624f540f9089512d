// Audit entries are numbered per tenant: the ids one tenant sees say nothing about another's activity.
import { beforeAll, expect, it } from 'vitest';
import { auditLog, newSession, newTenant, TestClock } from './admin-helpers.js';
import { useEdge } from './fixture.js';
import type { TestEdge } from './helpers.js';

const fx = useEdge({
  hosts: ['host-audit-ids'],
  tenants: [],
  operator: true,
  edge: { now: new TestClock().now },
});
let edge: TestEdge;
let operator: string;

beforeAll(() => {
  ({ edge, operator } = fx());
});

it("numbers each tenant's entries 1, 2, 3... however busy the other tenants are", async () => {
  const quiet = await newTenant(edge, operator, 'quiet');
  const busy = await newTenant(edge, operator, 'busy');
  // Interleaved: the busy tenant acts between each of the quiet tenant's actions, and concurrently.
  await newSession(edge, quiet.adminKey, 'q-1');
  await Promise.all(['b-1', 'b-2', 'b-3', 'b-4'].map((name) => newSession(edge, busy.adminKey, name)));
  await newSession(edge, quiet.adminKey, 'q-2');
  await Promise.all(['b-5', 'b-6'].map((name) => newSession(edge, busy.adminKey, name)));

  const quietLog = await auditLog(edge, quiet.adminKey);
  const busyLog = await auditLog(edge, busy.adminKey);
  // tenant.create, then its sessions: no gaps where the other tenant's entries went.
  expect(quietLog.map((e) => e.id)).toEqual(['1', '2', '3']);
  expect(quietLog.map((e) => e.action)).toEqual(['tenant.create', 'session.create', 'session.create']);
  expect(busyLog.map((e) => e.id)).toEqual(['1', '2', '3', '4', '5', '6', '7']);
});
