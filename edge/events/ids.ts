import { monotonicFactory } from 'ulid';

// Monotonic within this isolate: two events made in one millisecond still sort in the order they were
// made. (Ids only need to be unique and roughly time-ordered; the log's order is `seq`.)
const ulid = monotonicFactory();

/** A new event id, as the session hosts make them: `evt_` and a ULID. */
export const newEventId = (): string => `evt_${ulid()}`;
