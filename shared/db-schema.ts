// Kysely types for the tables in migrations/. Types only: the edge and the hosts both query through them.
import type { ColumnType, Generated, GeneratedAlways, Selectable } from 'kysely';

/** A timestamptz: read as a Date (postgres.js parses it), written as a Date or an ISO string. */
export type Timestamp = ColumnType<Date, Date | string, Date | string>;

/** An int8: postgres.js reads it as a string so no precision is lost; written from any integer form. */
export type Int8 = ColumnType<string, string | number | bigint, string | number | bigint>;

/** A bytea: postgres.js reads a Buffer, which is a Uint8Array. */
export type Bytes = Uint8Array;

/**
 * A column with a database default, for columns already typed with ColumnType: optional on insert.
 * (Kysely's Generated<> would wrap the ColumnType itself and select it as that wrapper.)
 */
export type WithDefault<C> =
  C extends ColumnType<infer S, infer I, infer U> ? ColumnType<S, I | undefined, U> : never;

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };

/**
 * A jsonb column. postgres.js JSON-encodes whatever is written: pass a value, not a JSON string
 * (a string is stored as a JSON string).
 */
export type Json = ColumnType<JsonValue, JsonValue, JsonValue>;

export type TenantStatus = 'active' | 'suspended';
export type KeyScope = 'operator' | 'admin' | 'session';

export interface TenantsTable {
  id: Generated<string>;
  name: string;
  status: Generated<TenantStatus>;
  created_at: WithDefault<Timestamp>;
}

export interface ApiKeysTable {
  id: Generated<string>;
  /** SHA-256 of the full key. */
  digest: Bytes;
  /** Display prefix, safe to show and log. */
  prefix: string;
  scope: KeyScope;
  /** Null only for operator keys. */
  tenant_id: string | null;
  /** Set only for session keys. */
  session_id: string | null;
  label: string | null;
  created_at: WithDefault<Timestamp>;
  expires_at: Timestamp | null;
  revoked_at: Timestamp | null;
  last_used_at: Timestamp | null;
  replaced_by: string | null;
  overlap_until: Timestamp | null;
}

export interface SessionsTable {
  id: Generated<string>;
  tenant_id: string;
  /** The seed's `sessionId`, unique per tenant. */
  name: string;
  description: string | null;
  state: Generated<string>;
  account_jid: string | null;
  account_name: string | null;
  host_id: string | null;
  lease_epoch: WithDefault<Int8>;
  created_at: WithDefault<Timestamp>;
  updated_at: WithDefault<Timestamp>;
  /** The tenant admin's pacing (shared/outbox.ts `Pacing`); null: the deployment's defaults. */
  pacing: Json | null;
  /** When the host plans to send the session's next queued message. */
  outbox_next_at: Timestamp | null;
}

export interface WaCredsTable {
  session_id: string;
  /** BufferJSON-encoded AuthenticationCreds; read as text and revive, see node-runtime/wa/auth-store.ts. */
  creds: Json;
  updated_at: WithDefault<Timestamp>;
}

export interface WaKeysTable {
  session_id: string;
  type: string;
  id: string;
  /** BufferJSON-encoded Signal key value. */
  value: Json;
}

export interface HostsTable {
  id: string;
  internal_url: string;
  heartbeat_at: WithDefault<Timestamp>;
  draining: Generated<boolean>;
  started_at: WithDefault<Timestamp>;
  /** Whether the host's last check reached WhatsApp (or the simulator). */
  whatsapp: Generated<'unknown' | 'reachable' | 'unreachable'>;
  whatsapp_error: string | null;
  whatsapp_checked_at: Timestamp | null;
  /** HOST_MAX_SESSIONS: how many sessions it takes; null, no limit. */
  max_sessions: number | null;
  /** The running process's own id: another process with this host id is refused while the lease holds. */
  instance: string | null;
  /** Until when the host holds its sessions; renewed with each heartbeat. Null: never held (or released). */
  lease_until: Timestamp | null;
}

export interface AuditLogTable {
  /** Internal, global order; never shown (it would count other tenants' entries). */
  id: WithDefault<Int8>;
  tenant_id: string | null;
  /** The entry's number within its tenant: 1, 2, 3...; set by a trigger. What the API calls `id`. */
  seq: WithDefault<Int8>;
  /** Display prefix of the acting key. */
  actor: string | null;
  action: string;
  target: string | null;
  at: WithDefault<Timestamp>;
  detail: WithDefault<Json>;
}

export interface MessagesTable {
  session_id: string;
  id: string;
  tenant_id: string;
  direction: 'in' | 'out';
  chat_jid: string;
  chat_lid: string | null;
  sender_jid: string | null;
  sender_lid: string | null;
  kind: string;
  text: string | null;
  content: WithDefault<Json>;
  sent_at: Timestamp;
  status: 'queued' | 'sent' | 'delivered' | 'read' | 'played' | 'failed' | 'cancelled' | null;
  status_rank: Generated<number>;
  status_at: Timestamp | null;
  failure: string | null;
  source: 'api' | 'phone' | null;
  created_at: WithDefault<Timestamp>;
  /** Queue order of a message sent through the outbox. */
  outbox_seq: Int8 | null;
  /** `outbox_seq` while the message is queued, null once it left (what the outbox's index holds). */
  queue_seq: GeneratedAlways<Int8 | null>;
  expires_at: Timestamp | null;
  /** Times it was handed to WhatsApp. */
  attempts: Generated<number>;
}

export interface IdempotencyKeysTable {
  session_id: string;
  key: string;
  request_hash: Bytes;
  message_id: string;
  response_status: number | null;
  response_body: Json | null;
  locked_until: Timestamp | null;
  created_at: WithDefault<Timestamp>;
}

export interface EventsTable {
  /** `evt_` + a ULID. */
  id: string;
  tenant_id: string;
  /** The event's number within its tenant, set by a trigger: the order of the log. */
  seq: WithDefault<Int8>;
  session_id: string | null;
  session_name: string | null;
  type: string;
  data: Json;
  created_at: WithDefault<Timestamp>;
}

export interface WebhookEndpointsTable {
  id: Generated<string>;
  tenant_id: string;
  url: string;
  description: string | null;
  event_types: string[] | null;
  session_id: string | null;
  secret: Bytes;
  previous_secret: Bytes | null;
  previous_until: Timestamp | null;
  enabled: Generated<boolean>;
  disabled_reason: string | null;
  next_attempt_at: WithDefault<Timestamp>;
  failing_since: Timestamp | null;
  lease_owner: string | null;
  lease_until: Timestamp | null;
  created_at: WithDefault<Timestamp>;
  updated_at: WithDefault<Timestamp>;
}

export interface WebhookDeliveriesTable {
  id: WithDefault<Int8>;
  endpoint_id: string;
  event_id: string;
  event_seq: Int8;
  status: Generated<'pending' | 'delivered' | 'dead'>;
  attempts: Generated<number>;
  parked: Generated<boolean>;
  next_attempt_at: WithDefault<Timestamp>;
  first_attempt_at: Timestamp | null;
  delivered_at: Timestamp | null;
  created_at: WithDefault<Timestamp>;
}

export interface WebhookAttemptsTable {
  /** Internal; never shown (it would count other tenants' deliveries). */
  id: WithDefault<Int8>;
  delivery_id: Int8;
  endpoint_id: string;
  /** The attempt's number within its endpoint: what the API calls `id`. */
  seq: Int8;
  event_id: string;
  attempted_at: WithDefault<Timestamp>;
  status_code: number | null;
  latency_ms: number | null;
  error: string | null;
  outcome: 'delivered' | 'failed' | 'dead' | 'disabled';
  next_attempt_at: Timestamp | null;
}

/** A file waiting to be sent (migrations/0006): unclaimed until the message that carries it is queued. */
export interface OutboxMediaTable {
  id: string;
  session_id: string;
  message_id: string | null;
  mimetype: string;
  data: Uint8Array;
  created_at: WithDefault<Timestamp>;
}

export interface Database {
  tenants: TenantsTable;
  api_keys: ApiKeysTable;
  sessions: SessionsTable;
  wa_creds: WaCredsTable;
  wa_keys: WaKeysTable;
  hosts: HostsTable;
  audit_log: AuditLogTable;
  messages: MessagesTable;
  events: EventsTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_attempts: WebhookAttemptsTable;
  idempotency_keys: IdempotencyKeysTable;
  outbox_media: OutboxMediaTable;
}

export type Tenant = Selectable<TenantsTable>;
export type ApiKey = Selectable<ApiKeysTable>;
export type Session = Selectable<SessionsTable>;
export type Host = Selectable<HostsTable>;
export type AuditEntry = Selectable<AuditLogTable>;
export type MessageRow = Selectable<MessagesTable>;
export type EventRow = Selectable<EventsTable>;
