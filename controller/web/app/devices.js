// Devices: a searchable, filterable list paged by the controller (fast at 10,000 devices), and
// a device page with its variants, runtime, last telemetry, latency quantiles over time per
// stage, accuracy, drift, events and last error.
import { html } from './html.js';
import { useState } from 'preact/hooks';
import { api, filled } from './api.js';
import { useLive } from './live.js';
import { Chart, sourceCaption } from './chart.js';
import { ErrorNote, EventsTable, pct, short, when } from './ui.js';

const PAGE = 50;
const STATES = ['', 'active', 'syncing', 'idle', 'degraded', 'error', 'offline', 'failing'];

export function DevicesPage() {
  const [q, setQ] = useState('');
  const [state, setState] = useState('');
  const [offset, setOffset] = useState(0);
  const [data, error] = useLive(
    () => api.dashboard.devices(filled({ q, state, offset, limit: PAGE })),
    ['devices'],
    [q, state, offset],
  );
  return html`<h1>Devices</h1>
    <form class="filters" role="search" onSubmit=${(e) => e.preventDefault()}>
      <label for="dq">Search id, tag or bundle</label>
      <input
        id="dq"
        type="search"
        value=${q}
        onInput=${(e) => {
          setQ(e.currentTarget.value);
          setOffset(0);
        }}
      />
      <label for="ds">State</label>
      <select
        id="ds"
        value=${state}
        onChange=${(e) => {
          setState(e.currentTarget.value);
          setOffset(0);
        }}
      >
        ${STATES.map((s) => html`<option value=${s}>${s || 'any'}</option>`)}
      </select>
    </form>
    <${ErrorNote} error=${error} />
    ${
      data &&
      html`<div data-loaded="devices">
        <p>
          ${`${data.total} devices match; showing ${data.total ? data.offset + 1 : 0}–${data.offset + data.items.length}.`}
        </p>
        <table>
          <thead>
            <tr>
              <th scope="col">device</th>
              <th scope="col">chip</th>
              <th scope="col">state</th>
              <th scope="col">bundle</th>
              <th scope="col">tags</th>
              <th scope="col">last seen (UTC)</th>
              <th scope="col">last error</th>
            </tr>
          </thead>
          <tbody>
            ${data.items.map(
              (d) =>
                html`<tr>
                  <td><a href=${`#/devices/${encodeURIComponent(d.id)}`}>${d.id}</a></td>
                  <td>${d.chip}</td>
                  <td>${d.online ? (d.status ?? 'unknown') : 'offline'}</td>
                  <td><code>${short(d.activeBundle)}</code></td>
                  <td>
                    ${Object.entries(d.tags)
                      .map(([k, v]) => `${k}=${v}`)
                      .join(', ')}
                  </td>
                  <td>${when(d.lastSeen)}</td>
                  <td>${d.lastErrorCode ? html`<code>${d.lastErrorCode}</code>` : ''}</td>
                </tr>`,
            )}
          </tbody>
        </table>
        <nav class="pager" aria-label="Device pages">
          <button disabled=${offset === 0} onClick=${() => setOffset(Math.max(0, offset - PAGE))}>
            Previous page
          </button>
          <button disabled=${offset + PAGE >= data.total} onClick=${() => setOffset(offset + PAGE)}>
            Next page
          </button>
        </nav>
      </div>`
    }`;
}

/** Series of one quantile per stage from telemetry points. */
export function quantileSeries(points, stages, q) {
  return stages.map((stage) => ({
    label: `${stage} ${q}`,
    values: points.map((p) => p.latency[stage]?.[q] ?? null),
  }));
}

export function LatencyCharts({ series, title }) {
  const pts = series.points;
  const stages = Object.keys(series.summary.latency);
  if (!stages.length) return html`<p>No latency samples in this range.</p>`;
  const x = pts.map((p) => p.startMs);
  const caption = sourceCaption(series.latencySources);
  return html`<div class="charts">
    <${Chart}
      title=${`${title}: e2e latency quantiles`}
      x=${x}
      time=${true}
      unit="ms"
      log=${true}
      caption=${caption}
      series=${['p50', 'p95', 'p99'].map((q) => ({
        label: `e2e ${q}`,
        values: pts.map((p) => p.latency.e2e?.[q] ?? null),
      }))}
    />
    <${Chart}
      title=${`${title}: p95 per stage`}
      x=${x}
      time=${true}
      unit="ms"
      log=${true}
      caption=${caption}
      series=${quantileSeries(pts, stages, 'p95')}
    />
    <${Chart}
      title=${`${title}: requests and errors per bucket`}
      x=${x}
      time=${true}
      unit="requests"
      series=${[
        { label: 'requests', values: pts.map((p) => p.requests) },
        { label: 'errors', values: pts.map((p) => p.errors) },
      ]}
    />
    ${
      pts.some((p) => p.accuracy !== null) &&
      html`<${Chart}
        title=${`${title}: accuracy`}
        x=${x}
        time=${true}
        unit="fraction correct"
        yRange=${[0, 1]}
        series=${[{ label: 'accuracy', values: pts.map((p) => p.accuracy) }]}
      />`
    }
  </div>`;
}

export function SummaryTable({ summary }) {
  const rows = Object.entries(summary.latency);
  return html`<table>
    <caption>
      Latency over the range (ms)
    </caption>
    <thead>
      <tr>
        <th scope="col">stage</th>
        <th scope="col" class="num">count</th>
        <th scope="col" class="num">p50</th>
        <th scope="col" class="num">p95</th>
        <th scope="col" class="num">p99</th>
        <th scope="col" class="num">max</th>
      </tr>
    </thead>
    <tbody>
      ${rows.map(
        ([stage, l]) =>
          html`<tr>
            <td>${stage}</td>
            <td class="num">${l.count}</td>
            <td class="num">${l.p50.toFixed(2)}</td>
            <td class="num">${l.p95.toFixed(2)}</td>
            <td class="num">${l.p99.toFixed(2)}</td>
            <td class="num">${l.max.toFixed(2)}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

export function DriftTable({ drift }) {
  if (!drift?.length) return html`<p>No drift statistics reported.</p>`;
  return html`<table>
    <caption>
      Input drift (per channel)
    </caption>
    <thead>
      <tr>
        <th scope="col">input</th>
        <th scope="col" class="num">channel</th>
        <th scope="col" class="num">mean</th>
        <th scope="col" class="num">std</th>
        <th scope="col" class="num">clipped low</th>
        <th scope="col" class="num">clipped high</th>
      </tr>
    </thead>
    <tbody>
      ${drift.map(
        (d) =>
          html`<tr>
            <td>${d.input}</td>
            <td class="num">${d.channel}</td>
            <td class="num">${d.mean.toFixed(3)}</td>
            <td class="num">${d.std.toFixed(3)}</td>
            <td class="num">${d.clippedLow}</td>
            <td class="num">${d.clippedHigh}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

const MiB = 2 ** 20;

/**
 * TPU utilisation and device memory as the board reports them (libsophon's bm_get_stat): device
 * figures, never host ones. The simulator cannot know them and sends none.
 */
export function TpuCard({ tpu, runtime }) {
  const l = tpu.latest;
  const none =
    runtime === 'sim' ? 'not reported (simulator)' : 'not reported by this device in the range';
  return html`<section class="card" aria-label="TPU (device figures)">
    <h2>TPU (device figures)</h2>
    ${
      l
        ? html`<dl>
            <dt>utilisation, latest</dt>
            <dd data-testid="tpu-percent">${l.percent.toFixed(0)} %</dd>
            <dt>utilisation, mean / max</dt>
            <dd>${tpu.percentMean.toFixed(0)} % / ${tpu.percentMax.toFixed(0)} %</dd>
            <dt>device memory, latest</dt>
            <dd data-testid="tpu-mem">
              ${(l.memUsedBytes / MiB).toFixed(0)} of ${(l.memTotalBytes / MiB).toFixed(0)} MiB
            </dd>
            <dt>reading of</dt>
            <dd>${when(l.atMs)}</dd>
          </dl>`
        : html`<p data-testid="tpu-none">${none}</p>`
    }
  </section>`;
}

export function TpuCharts({ series, title }) {
  const pts = series.points;
  if (!pts.some((p) => p.tpu.percentMean !== null)) return null;
  const x = pts.map((p) => p.startMs);
  const caption = 'Device figures reported by the board (libsophon bm_get_stat).';
  return html`<div class="charts">
    <${Chart}
      title=${`${title}: TPU utilisation (mean per bucket)`}
      x=${x}
      time=${true}
      unit="% busy"
      yRange=${[0, 100]}
      caption=${caption}
      series=${[{ label: 'TPU utilisation', values: pts.map((p) => p.tpu.percentMean) }]}
    />
    <${Chart}
      title=${`${title}: TPU device memory used (max per bucket)`}
      x=${x}
      time=${true}
      unit="MiB"
      caption=${caption}
      series=${[
        {
          label: 'device memory used',
          values: pts.map((p) =>
            p.tpu.memUsedBytesMax === null ? null : p.tpu.memUsedBytesMax / MiB,
          ),
        },
      ]}
    />
  </div>`;
}

export function DevicePage({ id }) {
  const [data, error] = useLive(() => api.dashboard.device(id), ['devices', 'telemetry'], [id]);
  const d = data?.device;
  const s = data?.telemetry.summary;
  const acc = s?.accuracy;
  return html`<p><a href="#/devices">All devices</a></p>
    <h1>Device ${id}</h1>
    <${ErrorNote} error=${error} />
    ${
      data &&
      html`<div data-loaded="device">
        <div class="grid">
          <section class="card">
            <h2>Identity and runtime</h2>
            <dl>
              <dt>chip</dt>
              <dd>${d.chip}</dd>
              <dt>state</dt>
              <dd>${d.online ? (d.status ?? 'unknown') : 'offline'}</dd>
              <dt>runtime</dt>
              <dd>
                ${data.hello ? `${data.hello.runtime} (agent ${data.hello.agentVersion}; ${data.hello.runtime === 'bmrt' ? 'libsophon found on the board' : 'simulator: no libsophon runtime on this host, or configured so'})` : 'not reported since the controller started'}
              </dd>
              <dt>tags</dt>
              <dd>
                ${
                  Object.entries(d.tags)
                    .map(([k, v]) => `${k}=${v}`)
                    .join(', ') || '—'
                }
              </dd>
              <dt>last seen</dt>
              <dd>${when(d.lastSeen)}</dd>
              <dt>last error</dt>
              <dd>${d.lastErrorCode ? html`<code>${d.lastErrorCode}</code>` : 'none'}</dd>
            </dl>
          </section>
          <section class="card">
            <h2>Variants</h2>
            ${
              d.active.length
                ? html`<table>
                    <thead>
                      <tr>
                        <th scope="col">variant</th>
                        <th scope="col">bundle</th>
                        <th scope="col" class="num">sequence</th>
                      </tr>
                    </thead>
                    <tbody>
                      ${d.active.map(
                        (v) =>
                          html`<tr>
                            <td>${v.variant}</td>
                            <td>
                              <a href=${`#/bundles/${v.bundle}`}><code>${short(v.bundle)}</code></a>
                            </td>
                            <td class="num">${v.sequence}</td>
                          </tr>`,
                      )}
                    </tbody>
                  </table>`
                : html`<p>No bundle installed.</p>`
            }
          </section>
          <section class="card" aria-label="Last telemetry">
            <h2>Last hour</h2>
            <dl>
              <dt>requests</dt>
              <dd data-testid="requests">${s.requests}</dd>
              <dt>error rate</dt>
              <dd>${pct(s.errorRate)}</dd>
              <dt>golden-set accuracy</dt>
              <dd>${acc.golden.total ? pct(acc.golden.correct / acc.golden.total) : '—'}</dd>
              <dt>feedback accuracy</dt>
              <dd>${acc.feedback.total ? pct(acc.feedback.correct / acc.feedback.total) : '—'}</dd>
              <dt>shadow agreement</dt>
              <dd>${acc.shadow.total ? pct(acc.shadow.agree / acc.shadow.total) : '—'}</dd>
            </dl>
          </section>
          <${TpuCard} tpu=${s.tpu} runtime=${data.hello?.runtime} />
        </div>
        <h2>Latency</h2>
        <${SummaryTable} summary=${s} />
        <${LatencyCharts} series=${data.telemetry} title=${id} />
        <h2>TPU utilisation and device memory</h2>
        ${
          s.tpu.reports
            ? html`<${TpuCharts} series=${data.telemetry} title=${id} />`
            : html`<p>
                ${data.hello?.runtime === 'sim' ? 'Not reported (simulator): the simulator runtime cannot know the TPU figures.' : 'Not reported in the last hour.'}
              </p>`
        }
        <h2>Drift</h2>
        <${DriftTable} drift=${s.drift} />
        <h2>Events</h2>
        <${EventsTable} events=${data.events} />
      </div>`
    }`;
}
