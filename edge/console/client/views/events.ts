import { api } from '../api.js';
import { h, show, table, when } from '../dom.js';
import { errorBox, every, type View } from '../ui.js';

const KEEP = 100;

type GatewayEvent = { id: string; type: string; timestamp: string; sessionId: string | null; data: unknown };

/** A line of what an event says, short: its data without the session (shown in its own column). */
const summary = (event: GatewayEvent) => {
  const { sessionId: _, ...rest } = (event.data ?? {}) as Record<string, unknown>;
  const text = JSON.stringify(rest);
  return text.length > 160 ? `${text.slice(0, 157)}…` : text;
};

/** The events feed: the latest first, new ones as they happen (read with the signed-in key). */
export function eventsView(view: View) {
  const feed = h('div', { 'aria-live': 'polite' });
  show(
    view.root,
    h('h2', null, 'Events'),
    h('p', { class: 'hint' }, 'Live: new events appear at the top.'),
    feed,
  );
  let after: string | undefined;
  let events: GatewayEvent[] = [];
  every(view, 2_000, async () => {
    try {
      // Everything since the last read (the first read walks to the end of the log).
      for (let page = 0; page < 20; page++) {
        const query = new URLSearchParams({ limit: '500', ...(after ? { after } : {}) });
        const answer = await api('GET', `/api/events?${query}`);
        events = [...events, ...answer.events].slice(-KEEP);
        if (answer.nextCursor) after = answer.nextCursor;
        if (answer.events.length < 500) break;
      }
      if (!view.active()) return;
      show(
        feed,
        table(
          'Events',
          ['Time', 'Type', 'Session', 'Data'],
          [...events]
            .reverse()
            .map((e) => [when(e.timestamp), h('code', null, e.type), e.sessionId ?? '—', summary(e)]),
        ),
      );
    } catch (err) {
      show(feed, errorBox(err));
    }
  });
}
