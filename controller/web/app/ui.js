// Small shared pieces: confirmation of actions, error notes, times, digests, counts.
import { html } from './html.js';
import { useState } from 'preact/hooks';

export const short = (digest) => (digest ? digest.slice(0, 12) : '—');
export const when = (ms) => (ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) : '—');
export const pct = (x) => (x === null || x === undefined ? '—' : `${(100 * x).toFixed(1)} %`);

export function ErrorNote({ error }) {
  if (!error) return null;
  return html`<p class="error" role="alert">
    <code>${error.code ?? 'error'}</code> ${error.message}
  </p>`;
}

/**
 * A button whose action runs only after a second, explicit confirmation. Hidden for read-only
 * sessions (the controller refuses their changes anyway).
 */
export function ActionButton({ label, confirm, run, role, disabled, onDone }) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(undefined);
  if (role !== 'operator') return null;
  const go = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await run();
      setAsking(false);
      onDone?.();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return html`<span class="action">
    ${
      asking
        ? html`<span role="alertdialog" aria-label=${`Confirm ${label}`} class="confirm">
            <span>${confirm}</span>
            <button class="danger" onClick=${go} disabled=${busy}>
              Confirm ${label.toLowerCase()}
            </button>
            <button onClick=${() => setAsking(false)}>Keep as is</button>
          </span>`
        : html`<button onClick=${() => setAsking(true)} disabled=${disabled}>${label}</button>`
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
        <th scope="col">severity</th>
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
            <td>${e.severity}</td>
            <td><code>${e.code}</code></td>
            <td>${e.message}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}
