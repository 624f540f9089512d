import type { Context } from 'hono';
import type { Kysely } from 'kysely';
import type { ApiKeyScope } from '../shared/api-key.js';
import type { Database } from '../shared/db-schema.js';
import { ApiError } from '../shared/errors.js';

/** Who is calling, resolved from the `x-api-key` header by the auth middleware. */
export type Principal =
  | {
      scope: 'operator';
      keyId: string;
      keyPrefix: string;
      tenantId: null;
      sessionId: null;
      sessionName: null;
    }
  | { scope: 'admin'; keyId: string; keyPrefix: string; tenantId: string; sessionId: null; sessionName: null }
  | {
      scope: 'session';
      keyId: string;
      keyPrefix: string;
      tenantId: string;
      /** sessions.id (uuid): what the host and the JWT know the session by. */
      sessionId: string;
      /** The seed's `sessionId`, as the client knows it. */
      sessionName: string;
    };

export type PrincipalOf<S extends ApiKeyScope> = Extract<Principal, { scope: S }>;

export interface EdgeVariables {
  /** The request's database, opened on first use (see EdgeDatabase). */
  db: () => Kysely<Database>;
  /**
   * For a response that goes on after the handler returns (a stream): the database stays open, and the
   * function returned closes it once the stream is done.
   */
  holdDb: () => () => Promise<void>;
  principal: Principal;
}

// Bindings stay loose: on Node they are the HTTP objects, on Workers the env (Hyperdrive, secrets). The
// entries that need them parse them with zod.
export type EdgeEnv = { Bindings: Record<string, unknown>; Variables: EdgeVariables };

export type EdgeContext = Context<EdgeEnv>;

/**
 * Where the request's database comes from. On Node and Deno, one pool for the process; on Workers a
 * Kysely per request over the Hyperdrive connection string, closed after the response.
 */
export interface EdgeDatabase {
  /** Called at most once per request, and only if the request needs the database. */
  open(c: EdgeContext): Kysely<Database>;
  /** Called after the response when `open` was; e.g. `c.executionCtx.waitUntil(db.destroy())`. */
  close?(db: Kysely<Database>, c: EdgeContext): void | Promise<void>;
}

/** The request's database. (`c.get`, not `c.var`: Hono's `c.var` copies every variable per read.) */
export function dbOf(c: EdgeContext): Kysely<Database> {
  return c.get('db')();
}

/** Keeps the request's database open past the handler; the function returned closes it. */
export function holdDbOf(c: EdgeContext): () => Promise<void> {
  return c.get('holdDb')();
}

/** The caller, who must hold a key of `scope`; otherwise 403 WRONG_SCOPE. */
export function principalOf<S extends ApiKeyScope>(c: EdgeContext, scope: S): PrincipalOf<S> {
  const principal = c.get('principal');
  if (!isScope(principal, scope)) throw new ApiError('WRONG_SCOPE');
  return principal;
}

function isScope<S extends ApiKeyScope>(
  principal: Principal | undefined,
  scope: S,
): principal is PrincipalOf<S> {
  return principal?.scope === scope;
}
