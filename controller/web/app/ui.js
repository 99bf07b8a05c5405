// Small shared pieces: confirmation of actions, error notes, times, digests, counts.
import { html } from './html.js';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';

export const short = (digest) => (digest ? digest.slice(0, 12) : '—');
export const when = (ms) => (ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) : '—');
export const pct = (x) => (x === null || x === undefined ? '—' : `${(100 * x).toFixed(1)} %`);
/** A count as it came: 0 is a count, a missing one (nothing reported, an older controller) a dash. */
export const count = (n) => (n === null || n === undefined ? '—' : String(n));

export function ErrorNote({ error }) {
  if (!error) return null;
  return html`<p class="error" role="alert">
    <code>${error.code ?? 'error'}</code> ${error.message}
  </p>`;
}

let dialogs = 0;

/**
 * The confirmation of an action, shown in place of its button: focus moves to the confirm
 * button, Tab and Shift+Tab stay inside (WAI-ARIA APG, alertdialog), Escape or "Keep as is"
 * cancels. Whoever shows it gives focus back when it closes (useReturnFocus).
 */
export function ConfirmDialog({ label, question, onConfirm, onCancel, busy }) {
  const ref = useRef(null);
  const [id] = useState(() => `confirm-${++dialogs}`);
  // Layout effects: focus moves in the same task as the render, so no key press lands on <body>.
  useLayoutEffect(() => {
    ref.current?.querySelector('button.danger')?.focus();
  }, []);
  const onKeyDown = (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      onCancel();
      return;
    }
    if (e.key !== 'Tab') return;
    const items = [...ref.current.querySelectorAll('button')];
    const first = items[0];
    const last = items[items.length - 1];
    if (e.shiftKey && document.activeElement === first) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first.focus();
    }
  };
  return html`<span
    role="alertdialog"
    aria-label=${`Confirm ${label}`}
    aria-describedby=${id}
    class="confirm"
    ref=${ref}
    onKeyDown=${onKeyDown}
  >
    <span id=${id}>${question}</span>
    <button
      type="button"
      class="danger"
      aria-disabled=${busy ? 'true' : undefined}
      onClick=${() => (busy ? undefined : onConfirm())}
    >
      Confirm ${label.toLowerCase()}
    </button>
    <button type="button" onClick=${onCancel}>Keep as is</button>
  </span>`;
}

/**
 * Focus handling around a ConfirmDialog: `closed()` puts focus back on the trigger (the ref)
 * once it is shown again; when the whole control goes away while it holds focus (a paused
 * rollout has no Pause button), focus goes to the enclosing card instead of the page's start.
 */
export function useReturnFocus() {
  const trigger = useRef(null);
  const wrapper = useRef(null);
  const [pending, setPending] = useState(false);
  useLayoutEffect(() => {
    if (pending && trigger.current) {
      trigger.current.focus();
      setPending(false);
    }
  });
  useEffect(
    () => () => {
      const w = wrapper.current;
      if (!w || !w.contains(document.activeElement)) return;
      const home = w.parentElement?.closest('article, section, main');
      if (!home) return;
      if (!home.hasAttribute('tabindex')) home.setAttribute('tabindex', '-1');
      home.focus();
    },
    [],
  );
  return { trigger, wrapper, closed: () => setPending(true) };
}

/**
 * A button whose action runs only after a second, explicit confirmation. Hidden for read-only
 * sessions (the controller refuses their changes anyway).
 */
export function ActionButton({ label, confirm, run, role, disabled, onDone }) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(undefined);
  const focus = useReturnFocus();
  if (role !== 'operator') return null;
  const close = () => {
    setAsking(false);
    focus.closed();
  };
  const go = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await run();
      close();
      onDone?.();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return html`<span class="action" ref=${focus.wrapper}>
    ${
      asking
        ? html`<${ConfirmDialog}
            label=${label}
            question=${confirm}
            onConfirm=${go}
            onCancel=${close}
            busy=${busy}
          />`
        : html`<button ref=${focus.trigger} onClick=${() => setAsking(true)} disabled=${disabled}>
            ${label}
          </button>`
    }
    <${ErrorNote} error=${error} />
  </span>`;
}

/** A small table of name -> count, sorted by count. */
export function Counts({ title, counts, link }) {
  const rows = Object.entries(counts ?? {}).sort((a, b) => b[1] - a[1]);
  return html`<section class="card">
    <h2>${title}</h2>
    <table>
      <thead>
        <tr>
          <th scope="col">${title.replace(/^By /, '')}</th>
          <th scope="col" class="num">devices</th>
        </tr>
      </thead>
      <tbody>
        ${rows.slice(0, 12).map(
          ([k, n]) =>
            html`<tr>
              <td>${link ? html`<a href=${link(k)}>${k}</a>` : k}</td>
              <td class="num">${n}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

export function EventsTable({ events, withDevice }) {
  if (!events?.length) return html`<p>No events.</p>`;
  return html`<table class="events">
    <thead>
      <tr>
        <th scope="col">time (UTC)</th>
        ${withDevice ? html`<th scope="col">device</th>` : null}
        <th scope="col" class="wide-only">severity</th>
        <th scope="col">code</th>
        <th scope="col">message and hint</th>
      </tr>
    </thead>
    <tbody>
      ${events.map(
        (e) =>
          html`<tr class=${`sev-${e.severity}`}>
            <td>${when(e.at)}</td>
            ${withDevice ? html`<td><a href=${`#/devices/${e.deviceId}`}>${e.deviceId}</a></td>` : null}
            <td class="wide-only">${e.severity}</td>
            <td><code class="event-code">${e.code}</code></td>
            <td>${e.message}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}
