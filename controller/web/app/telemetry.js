// Telemetry: latency quantiles over time per bundle, variant and chip; requests, accuracy and
// drift.
import { html } from './html.js';
import { useState } from 'preact/hooks';
import { api, filled } from './api.js';
import { useLive } from './live.js';
import { DriftTable, LatencyCharts, SummaryTable } from './devices.js';
import { ErrorNote, short } from './ui.js';

export function TelemetryPage() {
  const [f, setF] = useState({ bundle: '', variant: '', chip: '', minutes: '60' });
  const [bundles] = useLive(() => api.bundles.list(), [], []);
  const [data, error] = useLive(
    () => api.dashboard.telemetry(filled({ ...f, buckets: 30 })),
    ['telemetry'],
    [f.bundle, f.variant, f.chip, f.minutes],
  );
  const set = (k) => (e) => setF({ ...f, [k]: e.currentTarget.value });
  const title = [
    f.bundle ? short(f.bundle) : 'all bundles',
    f.variant || 'all variants',
    f.chip || 'all chips',
  ].join(', ');
  return html`<h1>Telemetry</h1>
    <form class="filters" onSubmit=${(e) => e.preventDefault()}>
      <label for="tb">Bundle</label>
      <select id="tb" value=${f.bundle} onChange=${set('bundle')}>
        <option value="">all</option>
        ${(bundles ?? []).map((b) => html`<option value=${b.digest}>${b.model} ${b.version} ${b.precision}</option>`)}
      </select>
      <label for="tv">Variant</label>
      <select id="tv" value=${f.variant} onChange=${set('variant')}>
        <option value="">all</option>
        <option value="A">A</option>
        <option value="B">B</option>
      </select>
      <label for="tc">Chip</label>
      <input id="tc" value=${f.chip} onChange=${set('chip')} />
      <label for="tm">Range</label>
      <select id="tm" value=${f.minutes} onChange=${set('minutes')}>
        <option value="15">15 min</option>
        <option value="60">1 h</option>
        <option value="360">6 h</option>
        <option value="1440">24 h</option>
      </select>
    </form>
    <${ErrorNote} error=${error} />
    ${
      data &&
      html`<div data-loaded="telemetry">
        <p>
          ${`${data.summary.requests} requests from ${data.summary.devices} devices, error rate ${(100 * data.summary.errorRate).toFixed(2)} %.`}
        </p>
        <${SummaryTable} summary=${data.summary} />
        <${LatencyCharts} series=${data} title=${title} />
        <h2>Drift</h2>
        <${DriftTable} drift=${data.summary.drift} />
      </div>`
    }`;
}
