import { api } from '../api.js';
import { badge, h, secretBox, show, table, when } from '../dom.js';
import { actionButton, errorBox, every, field, form, type View } from '../ui.js';

/** Tenants (operator key): create one (its first admin key shown once), suspend, resume. */
export function tenantsView(view: View) {
  const list = h('div');
  const created = h('div');
  const draw = async () => {
    const { tenants } = await api('GET', '/api/operator/tenants?limit=100');
    if (!view.active()) return;
    show(
      list,
      table(
        'Tenants',
        ['Tenant', 'Status', 'Created', ''],
        tenants.map((t: { id: string; name: string; status: string; createdAt: string }) => [
          t.name,
          badge(t.status),
          when(t.createdAt),
          actionButton(t.status === 'active' ? 'Suspend' : 'Resume', async () => {
            await api(
              'POST',
              `/api/operator/tenants/${t.id}/${t.status === 'active' ? 'suspend' : 'resume'}`,
            );
            await draw();
          }),
        ]),
      ),
    );
  };
  show(
    view.root,
    h('h2', null, 'Tenants'),
    form(
      'Create a tenant',
      [field('Name', 'name', { required: true })],
      'Create tenant',
      async (data, el) => {
        const answer = await api('POST', '/api/operator/tenants', {
          body: { name: String(data.get('name')) },
        });
        show(created, secretBox(`Admin key for ${answer.tenant.name}`, answer.apiKey));
        el.reset();
        await draw();
      },
    ),
    created,
    list,
  );
  draw().catch((err) => show(list, errorBox(err)));
}

/** Session hosts (operator key): liveness, load, WhatsApp reachability; drain and undrain. */
export function hostsView(view: View) {
  const list = h('div', { 'aria-live': 'polite' });
  show(view.root, h('h2', null, 'Session hosts'), list);
  const draw = async () => {
    const { hosts } = await api('GET', '/api/operator/hosts');
    if (!view.active()) return;
    show(
      list,
      table(
        'Hosts',
        ['Host', 'State', 'Sessions', 'WhatsApp', 'Heartbeat', ''],
        hosts.map(
          (x: {
            id: string;
            live: boolean;
            draining: boolean;
            sessions: number;
            maxSessions: number | null;
            whatsapp: { status: string };
            heartbeatAt: string;
          }) => [
            h('code', null, x.id),
            badge(!x.live ? 'down' : x.draining ? 'draining' : 'live'),
            `${x.sessions}${x.maxSessions === null ? '' : ` / ${x.maxSessions}`}`,
            x.whatsapp?.status ?? '—',
            when(x.heartbeatAt),
            actionButton(x.draining ? 'Undrain' : 'Drain', async () => {
              await api(
                'POST',
                `/api/operator/hosts/${encodeURIComponent(x.id)}/${x.draining ? 'undrain' : 'drain'}`,
              );
              await draw();
            }),
          ],
        ),
      ),
    );
  };
  every(view, 5_000, () => draw().catch((err) => show(list, errorBox(err))));
}
