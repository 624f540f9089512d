import { api } from '../api.js';
import { badge, h, show } from '../dom.js';
import { errorBox, every, field, form, type View } from '../ui.js';

const sandbox = () => document.querySelector('meta[name="wa-sandbox"]') !== null;

/**
 * One session, through its own key: where it stands (live), linking by QR or pairing code while it is
 * not linked (and, in the sandbox, a simulated phone's scan), and a test message once it is.
 */
export function linkPanel(view: View, key: string) {
  const status = h('div', { class: 'status-line', 'aria-live': 'polite' }, 'Loading…');
  const linking = h('div', { class: 'linking' });
  const sending = h('div', { class: 'sending' });
  const panel = h('section', { class: 'link-panel' }, status, linking, sending);
  let connected: boolean | undefined;

  const qrBox = h('div', { class: 'qr-box' });
  const showQr = () => {
    every(view, 3_000, async () => {
      if (connected) return;
      try {
        const qr = await api('GET', '/api/session/qr', { key });
        if (qr.connected) return;
        const img = h('img', { src: qr.qr, alt: 'QR code to scan with WhatsApp', width: 240, height: 240 });
        show(qrBox, img, h('p', { class: 'hint' }, 'WhatsApp > Linked devices > Link a device, then scan.'));
      } catch (err) {
        show(qrBox, errorBox(err));
      }
    });
  };
  const code = h('div', { class: 'pairing-code', 'aria-live': 'polite' });
  const pairingForm = form(
    'Link with a pairing code',
    [
      field('Phone number', 'phoneNumber', {
        placeholder: '+62 812 3456 7890',
        required: true,
        inputmode: 'tel',
      }),
    ],
    'Get pairing code',
    async (data) => {
      const answer = await api('POST', '/api/session/pairing-code', {
        key,
        body: { phoneNumber: String(data.get('phoneNumber')) },
      });
      show(
        code,
        h('p', null, 'Type this code on the phone (Linked devices > Link with phone number instead):'),
        h('output', { class: 'code', 'data-code': answer.code }, answer.code),
      );
    },
  );
  const simulated = sandbox()
    ? form(
        'Simulate a phone scan',
        [
          h('p', { class: 'hint' }, 'Sandbox: a simulated phone scans the current QR.'),
          field('Phone', 'phone', { value: '6281234567890', required: true }),
          field('Name', 'name', { value: 'Budi' }),
        ],
        'Simulate a phone scan',
        async (data) => {
          await api('POST', '/api/sandbox/scan', {
            key,
            body: { phone: String(data.get('phone')), name: String(data.get('name') || '') || undefined },
          });
        },
      )
    : null;

  const drawLinking = () =>
    show(
      linking,
      h('h3', null, 'Link WhatsApp'),
      h(
        'div',
        { class: 'link-ways' },
        h(
          'div',
          { class: 'card' },
          h('h4', null, 'By QR code'),
          qrBox.childElementCount
            ? qrBox
            : [
                h(
                  'button',
                  {
                    type: 'button',
                    onclick: (event: Event) => {
                      (event.currentTarget as HTMLElement).remove();
                      showQr();
                    },
                  },
                  'Show QR code',
                ),
                qrBox,
              ],
        ),
        h('div', null, h('h4', null, 'By pairing code'), pairingForm, code),
        simulated,
      ),
    );

  const result = h('div', { 'aria-live': 'polite' });
  const sendForm = form(
    'Send a test message',
    [
      field('To (international number)', 'to', {
        required: true,
        inputmode: 'tel',
        placeholder: '6289876543210',
      }),
      h(
        'label',
        null,
        h('span', null, 'Message'),
        h('textarea', { name: 'message', required: true, rows: 2 }),
      ),
    ],
    'Send',
    async (data, el) => {
      const sent = await api('POST', '/api/send', {
        key,
        body: { to: String(data.get('to')), message: String(data.get('message')) },
      });
      show(result, h('p', { class: 'ok', role: 'status' }, `Sent: ${sent.result.key.id}`));
      el.reset();
    },
  );

  every(view, 2_000, async () => {
    try {
      const now = await api('GET', '/api/session/status', { key });
      if (!view.active()) return;
      show(
        status,
        badge(now.connected ? 'connected' : 'not linked'),
        now.user ? ` ${now.user.id}${now.user.name ? ` (${now.user.name})` : ''}` : '',
      );
      if (now.connected === connected) return;
      connected = now.connected;
      if (connected) {
        linking.replaceChildren();
        show(sending, h('h3', null, 'Send a test message'), sendForm, result);
      } else {
        sending.replaceChildren();
        drawLinking();
      }
    } catch (err) {
      show(status, errorBox(err));
    }
  });
  return panel;
}
