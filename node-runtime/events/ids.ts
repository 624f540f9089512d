import { monotonicFactory } from 'ulid';

// Monotonic within this process: two events in one millisecond still sort in the order they were made.
const ulid = monotonicFactory();

/** A new event id: `evt_` and a ULID, unique everywhere and sortable by time. */
export const newEventId = () => `evt_${ulid()}`;
