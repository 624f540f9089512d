import { api, keepSessionKey } from '../api.js';
import { badge, h, secretBox, show, table, when } from '../dom.js';
import { actionButton, errorBox, field, form, type View } from '../ui.js';

type KeyInfo = {
  id: string;
  prefix: string;
  scope: string;
  label: string | null;
  sessionId: string | null;
  status: string;
  createdAt: string;
  lastUsedAt: string | null;
};

/** The tenant's keys: issue one (shown once), revoke, re-roll. */
export function keysView(view: View) {
  const list = h('div');
  const secret = h('div');
  const draw = async () => {
    const { keys } = await api('GET', '/api/admin/keys?limit=100');
    if (!view.active()) return;
    show(
      list,
      table(
        'Keys',
        ['Key', 'Scope', 'Session', 'Label', 'Status', 'Last used', ''],
        keys.map((k: KeyInfo) => [
          h('code', null, `${k.prefix}…`),
          k.scope,
          k.sessionId ?? '—',
          k.label ?? '—',
          badge(k.status),
          when(k.lastUsedAt),
          k.status === 'active'
            ? h(
                'span',
                { class: 'row-actions' },
                actionButton('Re-roll', async () => {
                  const answer = await api('POST', `/api/admin/keys/${k.id}/reroll`, {
                    body: { overlapSeconds: 0 },
                  });
                  if (k.sessionId) keepSessionKey(k.sessionId, answer.apiKey);
                  show(secret, secretBox(`New key replacing ${k.prefix}…`, answer.apiKey));
                  await draw();
                }),
                actionButton(
                  'Revoke',
                  async () => {
                    if (!confirm(`Revoke ${k.prefix}…? Clients using it stop working at once.`)) return;
                    await api('POST', `/api/admin/keys/${k.id}/revoke`);
                    await draw();
                  },
                  { class: 'danger' },
                ),
              )
            : '',
        ]),
      ),
    );
  };
  show(
    view.root,
    h('h2', null, 'API keys'),
    form(
      'Issue a key',
      [
        h(
          'label',
          null,
          h('span', null, 'Scope'),
          h(
            'select',
            { name: 'scope' },
            h('option', { value: 'session' }, 'session'),
            h('option', { value: 'admin' }, 'admin'),
          ),
        ),
        field('Session (for a session key)', 'sessionId', {}),
        field('Label', 'label', { required: true, placeholder: 'billing backend' }),
      ],
      'Issue key',
      async (data, el) => {
        const scope = String(data.get('scope'));
        const sessionId = String(data.get('sessionId') || '') || undefined;
        const answer = await api('POST', '/api/admin/keys', {
          body: { scope, label: String(data.get('label')), ...(scope === 'session' ? { sessionId } : {}) },
        });
        if (scope === 'session' && sessionId) keepSessionKey(sessionId, answer.apiKey);
        show(secret, secretBox(`New ${scope} key`, answer.apiKey));
        el.reset();
        await draw();
      },
    ),
    secret,
    list,
  );
  draw().catch((err) => show(list, errorBox(err)));
}
