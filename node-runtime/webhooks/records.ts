// The log of one endpoint's delivered attempts, written behind its deliveries: the next POST does not
// wait for the last one's record to commit, and the records that queue while one statement runs go
// together in the next (a group writer). Anything that reads the endpoint's queue or writes its other
// attempts waits for them first (`settled`), so the log keeps the order of the POSTs and a look at the
// queue never finds a delivery that already went.
import type { Kysely } from 'kysely';
import type { Database } from '../../shared/db-schema.js';
import { GroupWriter } from '../../shared/group-writer.js';
import { type AttemptRecord, recordAttempts } from './queue.js';

export class DeliveredRecords {
  private readonly writer: GroupWriter<AttemptRecord, void>;
  /** The last record's write; the writer goes in order, so once it is done all are. Never rejects. */
  private last: Promise<void> = Promise.resolve();
  private failure: unknown;

  constructor(db: Kysely<Database>, endpointId: string) {
    this.writer = new GroupWriter<AttemptRecord, void>(async (records) => {
      await recordAttempts(db, endpointId, records);
      return records.map(() => undefined);
    });
  }

  /** Queues a delivered attempt's record; throws if an earlier write failed (the caller stops). */
  add(record: AttemptRecord) {
    if (this.failure !== undefined) throw this.failure;
    // A lost record leaves its delivery pending: it goes again once the endpoint is claimed next.
    this.last = this.writer.submit(record).catch((err: unknown) => {
      this.failure ??= err;
    });
  }

  /** Waits until every queued record is written; rejects if one could not be. */
  async settled(): Promise<void> {
    await this.last;
    if (this.failure !== undefined) throw this.failure;
  }
}
