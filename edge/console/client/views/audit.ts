import { api } from '../api.js';
import { h, show, table, when } from '../dom.js';
import { errorBox, type View } from '../ui.js';

/** Who did what: the tenant's audit log, newest first. */
export function auditView(view: View) {
  const list = h('div', null, 'Loading…');
  show(view.root, h('h2', null, 'Audit log'), list);
  api('GET', '/api/admin/audit?limit=100')
    .then(({ entries }) => {
      if (!view.active()) return;
      show(
        list,
        table(
          'Audit log',
          ['Time', 'Who', 'Action', 'Target', 'Detail'],
          entries.map(
            (e: {
              at: string;
              actor: string | null;
              action: string;
              target: string | null;
              detail: unknown;
            }) => [
              when(e.at),
              e.actor ? h('code', null, e.actor) : '—',
              e.action,
              e.target ?? '—',
              JSON.stringify(e.detail),
            ],
          ),
        ),
      );
    })
    .catch((err) => show(list, errorBox(err)));
}
