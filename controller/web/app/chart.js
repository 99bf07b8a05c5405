// Charts on uPlot: time or value x axis, labelled axes with ticks and units, a log scale for
// latency (quantiles spread over decades when one device is 100x slower), a legend, and a
// caption saying where latency was measured (on the device, on this host, or modeled).
import { html } from './html.js';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

export const COLOURS = ['#1f5fbf', '#c2410c', '#15803d', '#7e22ce', '#b91c1c', '#0f766e'];

/** "device 120, modeled 30" -> words for a chart caption. */
export function sourceCaption(sources) {
  const names = {
    device: 'measured on the device',
    host: 'measured on this host',
    modeled: 'modeled by the cost model',
    unknown: 'of unknown origin',
  };
  const parts = Object.entries(sources ?? {})
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${names[k] ?? k} (${n} requests)`);
  return parts.length ? `Latency ${parts.join(', ')}.` : 'No latency samples in this range.';
}

/**
 * props: title, x: numbers (ms epoch when time), series: [{ label, values }], unit, log,
 * time (x is time), xLabel, caption, height.
 */
export function Chart(props) {
  const el = useRef(null);
  useEffect(() => {
    const node = el.current;
    if (!node) return undefined;
    const width = Math.max(260, Math.min(node.clientWidth || 600, 900));
    const xs = props.time ? props.x.map((v) => v / 1000) : props.x;
    const clean = (vs) =>
      vs.map((v) => (v === null || v === undefined || (props.log && !(v > 0)) ? null : v));
    const data = [xs, ...props.series.map((s) => clean(s.values))];
    const yLabel = `${props.yLabel ?? props.unit}${props.log ? ' (log scale)' : ''}`;
    const plot = new uPlot(
      {
        width,
        height: props.height ?? 220,
        scales: {
          x: {
            time: !!props.time,
            ...(props.xLog ? { distr: 3 } : {}),
            // One bucket alone: a minute either side, not uPlot's default span of years.
            ...(props.time
              ? { range: (_u, min, max) => (max - min < 60 ? [min - 60, max + 60] : [min, max]) }
              : {}),
          },
          y: props.log
            ? { distr: 3 }
            : props.yRange
              ? { auto: false, range: props.yRange }
              : { auto: true },
        },
        axes: [
          {
            label: props.xLabel ?? (props.time ? "time (this browser's time zone)" : ''),
            stroke: '#333',
            grid: { stroke: '#eee' },
          },
          {
            label: yLabel,
            stroke: '#333',
            grid: { stroke: '#eee' },
            size: 60,
            values: (_u, ticks) => ticks.map((t) => formatNumber(t)),
          },
        ],
        series: [
          { label: props.time ? 'time' : (props.xLabel ?? 'x') },
          ...props.series.map((s, i) => ({
            label: s.label,
            stroke: s.colour ?? COLOURS[i % COLOURS.length],
            width: 2,
            spanGaps: true,
            points: { show: xs.length < 40 },
          })),
        ],
      },
      data,
      node,
    );
    return () => plot.destroy();
  }, [JSON.stringify([props.x, props.series, props.log])]);
  return html`<figure class="chart">
    <figcaption>
      <strong>${props.title}</strong>${props.caption ? html` — ${props.caption}` : ''}
    </figcaption>
    <div
      ref=${el}
      role="img"
      aria-label=${`${props.title}: ${props.series.map((s) => s.label).join(', ')} in ${props.unit}`}
    ></div>
  </figure>`;
}

export function formatNumber(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '';
  const a = Math.abs(v);
  if (a >= 1000) return `${Math.round(v).toLocaleString('en')}`;
  if (a >= 10) return v.toFixed(0);
  if (a >= 1) return v.toFixed(1);
  if (a === 0) return '0';
  return v.toPrecision(2);
}
