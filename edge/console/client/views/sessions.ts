import { api, keepSessionKey, sessionKeyOf } from '../api.js';
import { badge, h, secretBox, show, table, when } from '../dom.js';
import { actionButton, errorBox, every, field, form, type View } from '../ui.js';
import { linkPanel } from './link.js';

/** The tenant's sessions with their live state, and a form to create one. */
export function sessionsView(view: View) {
  const list = h('div', { 'aria-live': 'polite' });
  const created = h('div');
  show(
    view.root,
    h('h2', null, 'Sessions'),
    form(
      'Create a session',
      [
        field('Session id', 'sessionId', {
          required: true,
          pattern: '[A-Za-z0-9_\\-]{1,64}',
          placeholder: 'sales-team',
        }),
        field('Description', 'description', {}),
      ],
      'Create session',
      async (data, el) => {
        const sessionId = String(data.get('sessionId'));
        const description = String(data.get('description') || '') || undefined;
        const answer = await api('POST', '/api/session/create', { body: { sessionId, description } });
        // Kept in this tab, so the console can link the new session and send with it.
        keepSessionKey(sessionId, answer.apiKey);
        show(
          created,
          secretBox(`Session key for ${sessionId}`, answer.apiKey),
          h(
            'p',
            null,
            h('a', { href: `#/sessions/${encodeURIComponent(sessionId)}` }, `Link ${sessionId} now →`),
          ),
        );
        el.reset();
      },
    ),
    created,
    list,
  );
  every(view, 3_000, async () => {
    try {
      const { sessions } = await api('GET', '/api/admin/sessions?limit=100');
      if (!view.active()) return;
      show(
        list,
        table(
          'Sessions',
          ['Session', 'State', 'Account', 'Queued', 'Created'],
          sessions.map(
            (s: {
              sessionId: string;
              state: string;
              user: { id: string } | null;
              outbox: { queued?: number };
              createdAt: string;
            }) => [
              h('a', { href: `#/sessions/${encodeURIComponent(s.sessionId)}` }, s.sessionId),
              badge(s.state),
              s.user?.id ?? '—',
              String(s.outbox?.queued ?? 0),
              when(s.createdAt),
            ],
          ),
        ),
      );
    } catch (err) {
      show(list, errorBox(err));
    }
  });
}

/** One session (admin): its details, and linking and sending with its key when this tab has it. */
export function sessionView(view: View, name: string) {
  const info = h('div', { class: 'card' }, 'Loading…');
  const work = h('div');
  show(
    view.root,
    h('p', null, h('a', { href: '#/sessions' }, '← Sessions')),
    h('h2', null, name),
    info,
    work,
  );
  every(view, 3_000, async () => {
    try {
      const { session } = await api('GET', `/api/admin/sessions/${encodeURIComponent(name)}`);
      if (!view.active()) return;
      show(
        info,
        h(
          'dl',
          null,
          h('dt', null, 'State'),
          h('dd', null, badge(session.state)),
          h('dt', null, 'Account'),
          h(
            'dd',
            null,
            session.user ? `${session.user.id}${session.user.name ? ` (${session.user.name})` : ''}` : '—',
          ),
          h('dt', null, 'Description'),
          h('dd', null, session.description ?? '—'),
          h('dt', null, 'Created'),
          h('dd', null, when(session.createdAt)),
        ),
      );
    } catch (err) {
      show(info, errorBox(err));
    }
  });
  const drawWork = () => {
    const key = sessionKeyOf(name);
    if (key) return show(work, linkPanel(view, key));
    show(
      work,
      h(
        'div',
        { class: 'card' },
        h('p', null, 'Linking and sending use the session’s own key, and this tab has none for it.'),
        actionButton('Issue a session key for the console', async () => {
          const answer = await api('POST', '/api/admin/keys', {
            body: { scope: 'session', sessionId: name, label: 'console' },
          });
          keepSessionKey(name, answer.apiKey);
          show(work, secretBox(`Session key for ${name}`, answer.apiKey), linkPanel(view, answer.apiKey));
        }),
      ),
    );
  };
  drawWork();
}
