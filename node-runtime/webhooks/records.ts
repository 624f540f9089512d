// The log of one endpoint's delivered attempts, written behind its deliveries: the next POST does not
// wait for the last one's record to commit, and the records that queue while one statement runs go
// together in the next. Anything that reads the endpoint's queue or writes its other attempts waits for
// them first (`settled`), so the log keeps the order of the POSTs and a look at the queue never finds a
// delivery that already went.
import type { Kysely } from 'kysely';
import type { Database } from '../../shared/db-schema.js';
import { type AttemptRecord, recordAttempts } from './queue.js';

export class DeliveredRecords {
  private queued: AttemptRecord[] = [];
  private writing: Promise<void> | undefined;
  private failure: unknown;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly endpointId: string,
  ) {}

  /** Queues a delivered attempt's record; throws if an earlier write failed (the caller stops). */
  add(record: AttemptRecord) {
    if (this.failure !== undefined) throw this.failure;
    this.queued.push(record);
    this.writing ??= this.drain();
  }

  /** Waits until every queued record is written; rejects if one could not be. */
  async settled(): Promise<void> {
    await this.writing;
    if (this.failure !== undefined) throw this.failure;
  }

  /** One statement at a time (each numbers its attempts after the last), until nothing is queued. */
  private async drain() {
    try {
      while (this.queued.length > 0) {
        await recordAttempts(this.db, this.endpointId, this.queued.splice(0));
      }
    } catch (err) {
      // Those deliveries stay pending and go again once the endpoint is claimed next: at least once.
      this.failure = err;
      this.queued = [];
    } finally {
      this.writing = undefined;
    }
  }
}
