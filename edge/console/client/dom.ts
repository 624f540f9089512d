// A few helpers to build the DOM. Text always goes in as text nodes (never HTML), so nothing an API
// answers can inject markup.

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | undefined | ((event: Event) => void)>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Attrs | null,
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(name.replace(/^on/, ''), value);
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replaces what `el` shows. */
export const show = (el: Element, ...children: (Child | Child[])[]) => {
  el.replaceChildren();
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
};

/** A date as the reader's local time, or a dash. */
export const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : '—');

/** A table with a header row; rows of cells. */
export const table = (label: string, head: string[], rows: Child[][]) =>
  h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { 'aria-label': label },
      h('thead', null, h('tr', null, ...head.map((t) => h('th', { scope: 'col' }, t)))),
      h(
        'tbody',
        null,
        rows.length === 0
          ? h('tr', null, h('td', { colspan: head.length, class: 'empty' }, 'Nothing yet'))
          : rows.map((cells) => h('tr', null, ...cells.map((c) => h('td', null, c)))),
      ),
    ),
  );

/** A state badge: green when connected, amber while on the way, grey at rest, red for trouble. */
export const badge = (text: string) => {
  const tone =
    text === 'connected' || text === 'active' || text === 'delivered' || text === 'live'
      ? 'ok'
      : ['connecting', 'awaiting-qr', 'reconnecting', 'pending', 'draining', 'retrying'].includes(text)
        ? 'busy'
        : ['failed', 'revoked', 'expired', 'suspended', 'replaced', 'down', 'disabled'].includes(text)
          ? 'bad'
          : 'rest';
  return h('span', { class: `badge ${tone}`, 'data-state': text }, text);
};

/**
 * A secret shown once (a new key or webhook secret), with a copy button; it is never stored by the page
 * except where the caller says so.
 */
export const secretBox = (label: string, secret: string) => {
  const status = h('span', { class: 'copied', role: 'status' });
  const code = h('code', { class: 'secret', 'data-secret': label }, secret);
  return h(
    'div',
    { class: 'secret-box' },
    h('p', null, h('strong', null, label), ' — shown once: copy it now.'),
    h(
      'div',
      { class: 'secret-row' },
      code,
      h(
        'button',
        {
          type: 'button',
          onclick: async () => {
            try {
              await navigator.clipboard.writeText(secret);
              status.textContent = 'Copied';
            } catch {
              // No clipboard (an insecure origin): select it for Ctrl-C.
              getSelection()?.selectAllChildren(code);
              status.textContent = 'Selected: press Ctrl-C';
            }
          },
        },
        'Copy',
      ),
      status,
    ),
  );
};
