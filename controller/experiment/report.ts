// Reports of an analysis: a self-contained HTML page (inline SVG, no scripts, no external
// assets), a text table for the CLI, and JSON (the Analysis value itself).
import { isAccuracyKey } from './detection.js';
import type { Analysis, OverallVerdict } from './analyze.js';
import { describeSources } from './latency-source.js';
import type { MetricResult, Verdict } from './metrics.js';

/** Verdicts in words for people (the JSON keeps the stable enum values). */
export const OVERALL_WORDS: Readonly<Record<OverallVerdict, string>> = {
  B_better: 'B is better',
  A_better: 'A is better',
  no_difference: 'no difference',
  tradeoff: 'a trade-off, no winner',
  not_enough_data: 'not enough data yet',
  guardrail: 'a guardrail was breached',
};

export const VERDICT_WORDS: Readonly<Record<Verdict, string>> = {
  better: 'B better',
  worse: 'B worse',
  no_difference: 'no difference',
  not_enough_data: 'not enough data',
  modeled: 'not tested (modeled)',
  differs: 'B differs (descriptive)',
};

/** "B is better, winner B" / "not enough data yet, B leads so far". */
export function overallHeadline(o: Analysis['overall']): string {
  const who = o.winner
    ? `, winner ${o.winner}`
    : o.leaning
      ? `, ${o.leaning} leads so far (not promotable yet)`
      : '';
  return `${OVERALL_WORDS[o.verdict]}${who}`;
}

/** One metric row's verdict, with what is missing when it waits for data. */
export function metricVerdictWords(m: MetricResult): string {
  return m.missing ? `${VERDICT_WORDS[m.verdict]} (${m.missing})` : VERDICT_WORDS[m.verdict];
}

/** Where a row's latencies come from; empty for rows that are not latencies. */
export function sourceWords(m: MetricResult): string {
  return m.source ? describeSources(m.source) : '';
}

const W = 560;
const H = 240;
const PAD = 40;
const COLOURS = { A: '#1f77b4', B: '#d62728' } as const;

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
const num = (x: number, d = 3): string =>
  Number.isFinite(x) ? Number(x.toPrecision(d)).toString() : '-';

function fmtEffect(m: MetricResult): string {
  const f =
    m.unit === 'ms'
      ? (x: number) => `${num(x)} ms`
      : m.unit === 'count'
        ? (x: number) => num(x)
        : (x: number) => `${num(x * 100)} pt`;
  if (m.verdict === 'modeled') return `${f(m.effect.estimate)} (model figure, no interval)`;
  return `${f(m.effect.estimate)} [${f(m.effect.low)}, ${f(m.effect.high)}]`;
}

const pCell = (m: MetricResult): string =>
  m.verdict === 'modeled' ? 'not tested' : num(m.alwaysValidP);

const SOURCE_NOTE =
  'latency from: measured on the device (vendor runtime), measured on this host (simulator ' +
  'runtime: x86 time, not the board), or modeled (the cost model: the same figure for every ' +
  'request, never tested)';

/** The unit each test treated as independent and the n it used: "devices 10 / 10". */
function unitCells(m: MetricResult): [string, string, string] {
  return [m.unitOfAnalysis, String(m.analysed.A), String(m.analysed.B)];
}

const UNIT_NOTES = {
  devices:
    'tested over devices: cohort experiment, each device one observation (its median or its ' +
    'proportion), n = devices per arm',
  requests:
    'tested over requests: traffic split or shadow, each request one observation, ' +
    'n = requests (labelled pairs for shadow) per arm',
} as const;

/** What the units in the table mean, for the units it holds. */
function unitNote(metrics: readonly MetricResult[]): string {
  const units = (['devices', 'requests'] as const).filter((u) =>
    metrics.some((m) => m.unitOfAnalysis === u),
  );
  return units.map((u) => UNIT_NOTES[u]).join('; ');
}

function svg(title: string, body: string): string {
  return `<figure><figcaption>${esc(title)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}"><rect x="0" y="0" width="${W}" height="${H}" fill="#fff" stroke="#ccc"/>${body}</svg></figure>`;
}

function axes(xLabel: string, yLabel: string, xMax: number, yMax: number): string {
  return (
    `<line x1="${PAD}" y1="${H - PAD}" x2="${W - 10}" y2="${H - PAD}" stroke="#333"/>` +
    `<line x1="${PAD}" y1="10" x2="${PAD}" y2="${H - PAD}" stroke="#333"/>` +
    `<text x="${W / 2}" y="${H - 8}" text-anchor="middle" font-size="11">${esc(xLabel)} (max ${num(xMax)})</text>` +
    `<text x="12" y="${H / 2}" font-size="11" transform="rotate(-90 12 ${H / 2})" text-anchor="middle">${esc(yLabel)} (max ${num(yMax)})</text>`
  );
}

function legend(): string {
  return (['A', 'B'] as const)
    .map(
      (k, i) =>
        `<text x="${W - 60}" y="${H - PAD - 24 + i * 14}" font-size="11" fill="${COLOURS[k]}">&#9632; ${k}</text>`,
    )
    .join('');
}

function polyline(
  points: readonly [number, number][],
  xMax: number,
  yMax: number,
  colour: string,
  dash = '',
): string {
  const sx = (x: number): number => PAD + (x / (xMax || 1)) * (W - PAD - 10);
  const sy = (y: number): number => H - PAD - (y / (yMax || 1)) * (H - PAD - 10);
  const d = points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
  const dashed = dash ? ` stroke-dasharray="${dash}"` : '';
  return `<polyline fill="none" stroke="${colour}" stroke-width="1.5"${dashed} points="${d}"/>`;
}

function cdfChart(a: Analysis): string {
  const xMax = Math.max(0, ...a.cdf.A.map((p) => p[0]), ...a.cdf.B.map((p) => p[0]));
  return svg(
    'End-to-end latency CDF per variant',
    axes('latency ms', 'fraction of requests', xMax, 1) +
      polyline(a.cdf.A, xMax, 1, COLOURS.A) +
      polyline(a.cdf.B, xMax, 1, COLOURS.B) +
      legend(),
  );
}

function accuracyChart(a: Analysis): string {
  // Accuracy only (the error rate, near 0, would squash the axis); it stays in the table.
  const rows = a.metrics.filter((m) => isAccuracyKey(m.key) && m.a && m.b);
  const paired = a.metrics.find((m) => m.kind === 'paired');
  const items: { label: string; colour: string; est: number; low: number; high: number }[] = [];
  for (const m of rows) {
    items.push({ label: `${m.label} A`, colour: COLOURS.A, ...iv(m.a!) });
    items.push({ label: `${m.label} B`, colour: COLOURS.B, ...iv(m.b!) });
  }
  if (paired?.agreement)
    items.push({ label: 'shadow top-1 agreement', colour: '#555', ...iv(paired.agreement) });
  // Matched-box F1 is reported as F1 - 1 (B against A's self-agreement): drawn as F1.
  const boxes = a.metrics.find((m) => m.key === 'detection.agreement');
  if (boxes && Number.isFinite(boxes.effect.estimate)) {
    const e = boxes.effect;
    items.push({
      label: 'shadow matched-box F1',
      colour: '#555',
      est: 1 + e.estimate,
      low: 1 + e.low,
      high: 1 + e.high,
    });
  }
  const shown = items.filter((it) => [it.est, it.low, it.high].every(Number.isFinite));
  // Zoom to the intervals, on a 5-point grid: on a 0..100 % axis a +-1 point interval is
  // narrower than its own point marker.
  const lo = Math.max(0, Math.floor(Math.min(1, ...shown.map((it) => it.low)) * 20) / 20);
  const hi = Math.min(1, Math.ceil(Math.max(0, ...shown.map((it) => it.high)) * 20) / 20);
  const span = hi > lo ? hi - lo : 1;
  const rowH = Math.max(14, Math.min(30, (H - 30) / Math.max(1, shown.length)));
  const x = (p: number): number => 200 + ((p - lo) / span) * (W - 220);
  const body = shown
    .map((it, i) => {
      const y = 20 + i * rowH;
      const cap = (v: number): string =>
        `<line x1="${x(v).toFixed(1)}" y1="${y - 4}" x2="${x(v).toFixed(1)}" y2="${y + 4}" stroke="${it.colour}" stroke-width="1.5"/>`;
      return (
        `<text x="8" y="${y + 4}" font-size="11">${esc(it.label)} ${num(it.est * 100)} %</text>` +
        `<line x1="${x(it.low).toFixed(1)}" y1="${y}" x2="${x(it.high).toFixed(1)}" y2="${y}" stroke="${it.colour}" stroke-width="2"/>` +
        cap(it.low) +
        cap(it.high) +
        `<circle cx="${x(it.est).toFixed(1)}" cy="${y}" r="3" fill="${it.colour}"/>`
      );
    })
    .join('');
  const scale = `<text x="200" y="${H - 6}" font-size="10">${num(lo * 100)} %</text><text x="${W - 20}" y="${H - 6}" font-size="10" text-anchor="end">${num((hi > lo ? hi : lo + 1) * 100)} %</text>`;
  return svg(
    'Accuracy per variant with intervals',
    (body || `<text x="20" y="40" font-size="12">no labelled results yet</text>`) + scale,
  );
}
const iv = (i: { estimate: number; low: number; high: number }) => ({
  est: i.estimate,
  low: i.low,
  high: i.high,
});

function sampleChart(a: Analysis): string {
  let cA = 0;
  let cB = 0;
  const t0 = a.timeline[0]?.startMs ?? 0;
  const ptsA: [number, number][] = [];
  const ptsB: [number, number][] = [];
  for (const b of a.timeline) {
    cA += b.A;
    cB += b.B;
    ptsA.push([(b.startMs - t0) / 60000, cA]);
    ptsB.push([(b.startMs - t0) / 60000, cB]);
  }
  const xMax = Math.max(1, ...ptsA.map((p) => p[0]));
  const yMax = Math.max(1, cA, cB);
  return svg(
    'Sample size over time (cumulative requests per arm)',
    axes('minutes since start', 'requests', xMax, yMax) +
      polyline(ptsA, xMax, yMax, COLOURS.A) +
      polyline(ptsB, xMax, yMax, COLOURS.B, '6 4') +
      legend(),
  );
}

function groupChart(a: Analysis): string {
  const rows = a.groups.map((g) => ({
    name: g.name,
    m: g.metrics.find((m) => m.key === 'latency.e2e'),
  }));
  const vals = rows
    .flatMap((r) => (r.m ? [r.m.effect.low, r.m.effect.high] : []))
    .filter(Number.isFinite);
  const lo = Math.min(0, ...vals);
  const hi = Math.max(0, ...vals);
  const x = (v: number): number => 200 + ((v - lo) / (hi - lo || 1)) * (W - 220);
  const body = rows
    .map((r, i) => {
      const y = 24 + i * 22;
      if (!r.m || !Number.isFinite(r.m.effect.estimate))
        return `<text x="8" y="${y + 4}" font-size="11">${esc(r.name)}: no data</text>`;
      return (
        `<text x="8" y="${y + 4}" font-size="11">${esc(r.name)} ${num(r.m.effect.estimate)} ms</text>` +
        `<line x1="${x(r.m.effect.low).toFixed(1)}" y1="${y}" x2="${x(r.m.effect.high).toFixed(1)}" y2="${y}" stroke="#333" stroke-width="2"/>` +
        `<circle cx="${x(r.m.effect.estimate).toFixed(1)}" cy="${y}" r="3" fill="${COLOURS.B}"/>`
      );
    })
    .join('');
  const zero = `<line x1="${x(0)}" y1="10" x2="${x(0)}" y2="${H - 20}" stroke="#999" stroke-dasharray="3 3"/>`;
  return svg(
    'Per-group latency shift B - A (ms, Hodges-Lehmann)',
    zero + (body || `<text x="20" y="40" font-size="12">a single group</text>`),
  );
}

function metricRowsHtml(metrics: readonly MetricResult[]): string {
  return metrics
    .map(
      (m) =>
        `<tr><td>${esc(m.label)}</td>${unitCells(m)
          .map((c, i) => `<td class="${i === 0 ? 'unit' : 'n'}">${esc(c)}</td>`)
          .join(
            '',
          )}<td>${esc(fmtEffect(m))}</td><td>${esc(pCell(m))}</td><td class="${m.verdict}">${esc(metricVerdictWords(m))}</td><td class="unit">${esc(sourceWords(m) || '-')}</td></tr>`,
    )
    .join('');
}

export function renderExperimentReport(a: Analysis): string {
  const quantiles = a.metrics
    .filter((m) => m.quantiles)
    .flatMap((m) =>
      m.quantiles!.map(
        (q) =>
          `<tr><td>${esc(m.label)} p${q.q * 100}</td><td>${num(q.a.value)}</td><td>${num(q.b.value)}</td><td>${num(q.difference)} [${num(q.low)}, ${num(q.high)}]</td><td>${num(q.relativePct)} %</td></tr>`,
      ),
    )
    .join('');
  const drift = a.drift
    ? `<h2>Field quantization health</h2><p class="${a.drift.suspect ? 'worse' : 'no_difference'}">${a.drift.suspect ? 'INT8 calibration suspect: ' + esc(a.drift.reasons.join('; ')) : a.drift.insufficient ? 'not enough input statistics yet' : 'live inputs match the calibration data'}</p>`
    : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Experiment ${esc(a.experimentId)}</title><link rel="icon" href="data:,">
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:64em}table{border-collapse:collapse;display:block;max-width:100%;overflow-x:auto}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}td:first-child,td.unit{text-align:left}.better{color:#080}.worse{color:#b00}figure{display:inline-block;margin:0 1em 1em 0;max-width:100%}figure svg{max-width:100%;height:auto}</style></head><body>
<h1>Experiment ${esc(a.experimentId)}</h1>
<p>Status <b>${esc(a.status)}</b>, allocation ${esc(a.allocation)}, A = <code>${esc(a.bundles.A.slice(0, 12))}</code>, B = <code>${esc(a.bundles.B.slice(0, 12))}</code>, samples A ${a.samples.A}, B ${a.samples.B}, alpha ${a.alpha}.</p>
<h2>Verdict: ${esc(overallHeadline(a.overall))}</h2>
<p>${esc(a.overall.reason)}</p>
${a.overall.missing?.length ? `<p>Missing before a winner can be named: ${esc(a.overall.missing.join('; '))}</p>` : ''}
${a.guardrails.breached ? `<p class="worse">Guardrail breached: ${esc(a.guardrails.reasons.join('; '))}</p>` : ''}
<table><thead><tr><th>metric</th><th>tested over</th><th>n A</th><th>n B</th><th>B - A [always-valid interval]</th><th>always-valid p</th><th>verdict</th><th>latency from</th></tr></thead><tbody>${metricRowsHtml(a.metrics)}</tbody></table>
<p><small>${esc(unitNote(a.metrics))}. ${esc(SOURCE_NOTE)}</small></p>
<h2>Latency quantiles (ms)</h2><table><thead><tr><th>quantile</th><th>A</th><th>B</th><th>B - A [interval]</th><th>relative</th></tr></thead><tbody>${quantiles}</tbody></table>
${drift}
<h2>Pictures</h2>
${cdfChart(a)}${accuracyChart(a)}${sampleChart(a)}${groupChart(a)}
<p><small>Intervals and p-values are always-valid (mixture SPRT), so looking at this page while the experiment runs does not inflate false positives. Quantile intervals are fixed-horizon order-statistic intervals (descriptive).</small></p>
</body></html>
`;
}

/** Plain-text table for `bmfleet experiment report`. */
export function renderExperimentTable(a: Analysis): string {
  const rows = [
    // Upper case, as every CLI table's header.
    [
      'METRIC',
      'TESTED OVER',
      'N A',
      'N B',
      'B - A [INTERVAL]',
      'P (ALWAYS-VALID)',
      'VERDICT',
      'LATENCY FROM',
    ],
  ];
  for (const m of a.metrics) {
    rows.push([
      m.label,
      ...unitCells(m),
      fmtEffect(m),
      pCell(m),
      metricVerdictWords(m),
      sourceWords(m) || '-',
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
  const head = `experiment ${a.experimentId} (${a.status}, ${a.allocation}); samples A ${a.samples.A}, B ${a.samples.B}`;
  const verdict = `verdict: ${overallHeadline(a.overall)}: ${a.overall.reason}`;
  const extra = [
    ...(a.overall.missing?.length ? [`missing: ${a.overall.missing.join('; ')}`] : []),
    ...(a.guardrails.breached ? [`guardrail breached: ${a.guardrails.reasons.join('; ')}`] : []),
    ...(a.drift?.suspect ? [`INT8 calibration suspect: ${a.drift.reasons.join('; ')}`] : []),
  ];
  return (
    [head, ...lines, `(${unitNote(a.metrics)})`, `(${SOURCE_NOTE})`, verdict, ...extra].join('\n') +
    '\n'
  );
}
