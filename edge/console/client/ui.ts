import { ApiFailure } from './api.js';
import { h } from './dom.js';

/** What a view is given: where to draw, and how to register what must stop when the reader leaves. */
export interface View {
  root: HTMLElement;
  /** Runs when the reader leaves the view (timers, streams). */
  onLeave(stop: () => void): void;
  /** Whether the reader is still on this view (an answer that comes late draws nothing). */
  active(): boolean;
}

/** An error as the reader should see it: what the API said, and its code. */
export const errorBox = (err: unknown) =>
  h(
    'div',
    { class: 'error', role: 'alert' },
    err instanceof ApiFailure
      ? [err.message, err.code === 'NETWORK' ? null : h('span', { class: 'code' }, ` ${err.code}`)]
      : String((err as Error)?.message ?? err),
  );

/** Runs `task` now and every `ms` while the view is shown (never two at once). */
export const every = (view: View, ms: number, task: () => Promise<void>) => {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const run = async () => {
    try {
      await task();
    } finally {
      if (!stopped) timer = setTimeout(run, ms);
    }
  };
  view.onLeave(() => {
    stopped = true;
    clearTimeout(timer);
  });
  void run();
};

/** A form whose submit runs `action`, showing its error (or nothing) in the form itself. */
export const form = (
  label: string,
  fields: HTMLElement[],
  submit: string,
  action: (data: FormData, form: HTMLFormElement) => Promise<void>,
) => {
  const problem = h('div', { class: 'form-problem' });
  const button = h('button', { type: 'submit' }, submit);
  const el = h('form', { 'aria-label': label, class: 'card' }, ...fields, h('div', null, button), problem);
  el.addEventListener('submit', async (event) => {
    event.preventDefault();
    problem.replaceChildren();
    button.disabled = true;
    try {
      await action(new FormData(el), el);
    } catch (err) {
      problem.append(errorBox(err));
    } finally {
      button.disabled = false;
    }
  });
  return el;
};

/** A labelled input. */
export const field = (
  label: string,
  name: string,
  attrs: Record<string, string | boolean | undefined> = {},
) => h('label', null, h('span', null, label), h('input', { name, ...attrs }));

/** A button that runs `action` and shows its error next to itself. */
export const actionButton = (
  text: string,
  action: () => Promise<void>,
  attrs: Record<string, string> = {},
) => {
  const problem = h('span', { class: 'inline-problem' });
  const button = h('button', { type: 'button', ...attrs }, text);
  button.addEventListener('click', async () => {
    problem.replaceChildren();
    button.disabled = true;
    try {
      await action();
    } catch (err) {
      problem.append(errorBox(err));
    } finally {
      button.disabled = false;
    }
  });
  return h('span', { class: 'action' }, button, problem);
};
