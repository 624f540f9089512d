// Times that several hosts write and compare (leases, what is due) go by PostgreSQL's clock: each host's
// own may run behind or ahead of it.
import { sql } from 'kysely';

/** `ms` from now, by the database's clock. */
export const fromNow = (ms: number) => sql<Date>`now() + make_interval(secs => ${ms / 1000})`;
