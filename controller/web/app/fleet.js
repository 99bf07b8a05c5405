// Fleet: devices by state, chip, tag and installed bundle; offline and failing devices; the
// newest events of the whole fleet with their codes and hints.
import { html } from './html.js';
import { api } from './api.js';
import { useLive } from './live.js';
import { Counts, ErrorNote, EventsTable, short, when } from './ui.js';

function DeviceList({ title, list }) {
  return html`<section class="card">
    <h2>${title} (${list.count})</h2>
    ${
      list.count === 0
        ? html`<p>None.</p>`
        : html`<ul class="plain">
              ${list.first.map(
                (d) =>
                  html`<li>
                    <a href=${`#/devices/${encodeURIComponent(d.id)}`}>${d.id}</a>
                    ${d.lastErrorCode ? html` <code>${d.lastErrorCode}</code>` : ''}
                    ${!d.online ? html` <span class="muted">last seen ${when(d.lastSeen)}</span>` : ''}
                  </li>`,
              )}
            </ul>
            ${
              list.count > list.first.length
                ? html`<p><a href="#/devices">all ${list.count} in Devices</a></p>`
                : ''
            }`
    }
  </section>`;
}

export function FleetPage() {
  const [data, error] = useLive(() => api.dashboard.fleet(), ['devices', 'rollouts']);
  return html`<h1>Fleet</h1>
    <${ErrorNote} error=${error} />
    ${
      data &&
      html`<div data-loaded="fleet">
        <p class="lead">
          ${`${data.total} devices, ${data.total - data.offline.count} online, ${data.failing.count} failing.`}
        </p>
        <div class="grid">
          <${Counts} title="By state" counts=${data.byState} />
          <${Counts} title="By chip" counts=${data.byChip} />
          <${Counts} title="By tag" counts=${data.byTag} />
          <${Counts}
            title="By bundle"
            counts=${Object.fromEntries(Object.entries(data.byBundle).map(([k, v]) => [k === 'none' ? k : short(k), v]))}
          />
          <${DeviceList} title="Offline" list=${data.offline} />
          <${DeviceList} title="Failing" list=${data.failing} />
        </div>
        <section>
          <h2>Recent events</h2>
          <${EventsTable} events=${data.events} withDevice=${true} />
        </section>
      </div>`
    }`;
}
