import { api } from '../api.js';
import { badge, h, secretBox, show, table, when } from '../dom.js';
import { actionButton, errorBox, every, field, form, type View } from '../ui.js';

/** Webhook endpoints, and a form to add one (its signing secret is shown once). */
export function webhooksView(view: View) {
  const list = h('div');
  const created = h('div');
  const draw = async () => {
    const { webhooks } = await api('GET', '/api/admin/webhooks?limit=100');
    if (!view.active()) return;
    show(
      list,
      table(
        'Webhooks',
        ['Endpoint', 'State', 'Events', 'Pending', 'Created'],
        webhooks.map(
          (w: {
            id: string;
            url: string;
            enabled: boolean;
            events: string[] | null;
            pending: number;
            createdAt: string;
          }) => [
            h('a', { href: `#/webhooks/${w.id}` }, w.url),
            badge(w.enabled ? 'active' : 'disabled'),
            w.events?.join(', ') ?? 'all',
            String(w.pending),
            when(w.createdAt),
          ],
        ),
      ),
    );
  };
  show(
    view.root,
    h('h2', null, 'Webhooks'),
    form(
      'Add a webhook',
      [
        field('URL', 'url', {
          type: 'url',
          required: true,
          placeholder: 'https://example.com/hooks/whatsapp',
        }),
        field('Description', 'description', {}),
      ],
      'Add webhook',
      async (data, el) => {
        const answer = await api('POST', '/api/admin/webhooks', {
          body: {
            url: String(data.get('url')),
            description: String(data.get('description') || '') || undefined,
          },
        });
        show(created, secretBox(`Signing secret for ${answer.webhook.url}`, answer.secret));
        el.reset();
        await draw();
      },
    ),
    created,
    list,
  );
  every(view, 5_000, () => draw().catch((err) => show(list, errorBox(err))));
}

/** One endpoint: its delivery log, a test event, and replaying a delivery. */
export function webhookView(view: View, id: string) {
  const info = h('div', { class: 'card' }, 'Loading…');
  const log = h('div', { 'aria-live': 'polite' });
  const notice = h('div', { role: 'status' });
  const draw = async () => {
    const [{ webhook }, { attempts }] = await Promise.all([
      api('GET', `/api/admin/webhooks/${id}`),
      api('GET', `/api/admin/webhooks/${id}/deliveries?limit=50`),
    ]);
    if (!view.active()) return;
    show(
      info,
      h('p', null, h('code', null, webhook.url), ' ', badge(webhook.enabled ? 'active' : 'disabled')),
      webhook.disabledReason ? h('p', { class: 'error' }, webhook.disabledReason) : null,
      actionButton('Send a test event', async () => {
        await api('POST', `/api/admin/webhooks/${id}/test`);
        show(notice, h('p', { class: 'ok' }, 'Test event queued.'));
        await draw();
      }),
    );
    show(
      log,
      h('h3', null, 'Delivery log'),
      table(
        'Deliveries',
        ['Time', 'Event', 'Outcome', 'Status', 'Latency', ''],
        attempts.map(
          (a: {
            eventId: string;
            eventType: string | null;
            attemptedAt: string;
            outcome: string;
            statusCode: number | null;
            latencyMs: number | null;
            error: string | null;
          }) => [
            when(a.attemptedAt),
            h('code', null, a.eventType ?? a.eventId),
            badge(a.outcome),
            a.statusCode === null ? (a.error ?? '—') : String(a.statusCode),
            a.latencyMs === null ? '—' : `${a.latencyMs} ms`,
            actionButton('Replay', async () => {
              const answer = await api('POST', `/api/admin/webhooks/${id}/replay`, {
                body: { eventId: a.eventId },
              });
              show(notice, h('p', { class: 'ok' }, `Replayed ${answer.replayed} event(s).`));
              await draw();
            }),
          ],
        ),
      ),
    );
  };
  show(
    view.root,
    h('p', null, h('a', { href: '#/webhooks' }, '← Webhooks')),
    h('h2', null, 'Webhook'),
    info,
    notice,
    log,
  );
  every(view, 3_000, () => draw().catch((err) => show(log, errorBox(err))));
}
