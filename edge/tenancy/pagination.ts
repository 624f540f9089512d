/** One page of a listing. */
export interface Page<T> {
  items: T[];
  /** Where the next page starts, or null on the last page. */
  nextCursor: string | null;
}

/**
 * Cuts a page from rows fetched with `limit + 1`: the extra row only says that there is a next page, and
 * the next page starts after the last row shown.
 */
export function pageOf<T>(rows: T[], limit: number, cursorOf: (row: T) => string): Page<T> {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last !== undefined ? cursorOf(last) : null };
}
