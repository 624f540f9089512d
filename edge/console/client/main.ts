// The console: a page of this gateway that calls its API with the key the reader signs in with. The key
// lives in sessionStorage (this tab only, gone when it closes) and is sent in `x-api-key`, never in a
// URL. What the page shows follows what the key may do: a tenant admin key, a session key, or the
// operator key.
import {
  type ApiFailure,
  forgetKeys,
  type Scope,
  scopeOf,
  storedKey,
  storeKey,
  whenKeyRefused,
} from './api.js';
import { h, show } from './dom.js';
import { errorBox, field, form, type View } from './ui.js';
import { auditView } from './views/audit.js';
import { eventsView } from './views/events.js';
import { keysView } from './views/keys.js';
import { linkPanel } from './views/link.js';
import { hostsView, tenantsView } from './views/operator.js';
import { sessionsView, sessionView } from './views/sessions.js';
import { webhooksView, webhookView } from './views/webhooks.js';

const app = document.getElementById('app') as HTMLElement;

const NAV: Record<Scope, [string, string][]> = {
  admin: [
    ['#/sessions', 'Sessions'],
    ['#/events', 'Events'],
    ['#/webhooks', 'Webhooks'],
    ['#/keys', 'Keys'],
    ['#/audit', 'Audit log'],
  ],
  session: [
    ['#/session', 'Session'],
    ['#/events', 'Events'],
  ],
  operator: [
    ['#/tenants', 'Tenants'],
    ['#/hosts', 'Hosts'],
  ],
};

const SCOPE_NAMES: Record<Scope, string> = {
  admin: 'Tenant admin',
  session: 'Session key',
  operator: 'Operator',
};

let scope: Scope | undefined;
const leave: (() => void)[] = [];

function signIn(problem?: unknown) {
  scope = undefined;
  show(
    app,
    h(
      'main',
      { class: 'sign-in' },
      h('h1', null, 'wa-gateway console'),
      h('p', null, 'Sign in with an API key: a tenant admin key, a session key, or the operator key.'),
      problem ? errorBox(problem) : null,
      form(
        'Sign in',
        [
          field('API key', 'key', {
            type: 'password',
            required: true,
            autocomplete: 'off',
            spellcheck: 'false',
          }),
        ],
        'Sign in',
        async (data) => {
          const key = String(data.get('key')).trim();
          scope = await scopeOf(key);
          storeKey(key);
          location.hash = NAV[scope][0]?.[0] ?? '#/';
          route();
        },
      ),
      h('p', { class: 'hint' }, 'The key stays in this tab and is sent only in a request header.'),
    ),
  );
}

function layout(current: Scope, main: HTMLElement) {
  const key = storedKey() ?? '';
  return h(
    'div',
    { class: 'shell' },
    h(
      'header',
      null,
      h('strong', { class: 'brand' }, 'wa-gateway'),
      h(
        'nav',
        { 'aria-label': 'Console' },
        NAV[current].map(([href, text]) =>
          h('a', { href, 'aria-current': location.hash.startsWith(href) ? 'page' : undefined }, text),
        ),
      ),
      h(
        'span',
        { class: 'who' },
        `${SCOPE_NAMES[current]} · ${key.slice(0, 12)}…`,
        h(
          'button',
          {
            type: 'button',
            onclick: () => {
              forgetKeys();
              location.hash = '';
              signIn();
            },
          },
          'Sign out',
        ),
      ),
    ),
    main,
  );
}

async function route() {
  for (const stop of leave.splice(0)) stop();
  const key = storedKey();
  if (!key) return signIn();
  if (!scope) {
    try {
      scope = await scopeOf(key);
    } catch (err) {
      forgetKeys();
      return signIn(err);
    }
  }
  const main = h('main', { id: 'view' });
  show(app, layout(scope, main));
  let shown = true;
  const view: View = { root: main, onLeave: (stop) => leave.push(stop), active: () => shown };
  leave.push(() => {
    shown = false;
  });
  const [, page = '', id] = location.hash.split('/');
  const allowed = NAV[scope].some(([href]) => href === `#/${page}`);
  if (!allowed) {
    location.hash = NAV[scope][0]?.[0] ?? '#/';
    return;
  }
  const param = id === undefined ? undefined : decodeURIComponent(id);
  switch (page) {
    case 'sessions':
      return param ? sessionView(view, param) : sessionsView(view);
    case 'session':
      return show(main, h('h2', null, 'This session'), linkPanel(view, key));
    case 'events':
      return eventsView(view);
    case 'webhooks':
      return param ? webhookView(view, param) : webhooksView(view);
    case 'keys':
      return keysView(view);
    case 'audit':
      return auditView(view);
    case 'tenants':
      return tenantsView(view);
    case 'hosts':
      return hostsView(view);
  }
}

// A key revoked or expired while the console is open: back to sign-in, saying why.
whenKeyRefused((failure: ApiFailure) => {
  for (const stop of leave.splice(0)) stop();
  forgetKeys();
  signIn(failure);
});
window.addEventListener('hashchange', () => void route());
void route();
