// Experiments: the verdict table, charts and sample-size progress of the analysis (the same one
// the HTML report renders), the plan calculator, and promote / abort.
import { html } from './html.js';
import { useState } from 'preact/hooks';
import { api } from './api.js';
import { useLive } from './live.js';
import { Chart } from './chart.js';
import { ActionButton, ErrorNote, count, short, when } from './ui.js';

const VERDICTS = {
  B_better: 'B is better',
  A_better: 'A is better',
  no_difference: 'no difference',
  tradeoff: 'trade-off',
  not_enough_data: 'not enough data yet',
  guardrail: 'guardrail breached',
};

const num = (x, digits, scale = 1) =>
  x === null || x === undefined || Number.isNaN(x) ? '—' : (scale * x).toFixed(digits);
const effect = (m) => {
  const [unit, scale] = m.unit === 'ms' ? [' ms', 1] : [' pt', 100];
  const e = m.effect ?? {};
  return `${num(e.estimate, 2, scale)}${unit} [${num(e.low, 2, scale)}, ${num(e.high, 2, scale)}]`;
};
const idOf = (e) => e.id ?? e.spec?.id;

/** Two step CDFs ([x, y] sorted by x) on one x axis: each arm's y at every x of either. */
export function mergeCdf(A, B) {
  const x = [...new Set([...A.map((p) => p[0]), ...B.map((p) => p[0])])].sort((p, q) => p - q);
  const at = (pts) => {
    let i = -1;
    return x.map((v) => {
      while (i + 1 < pts.length && pts[i + 1][0] <= v) i++;
      return i < 0 ? 0 : pts[i][1];
    });
  };
  return { x, A: at(A), B: at(B) };
}

/**
 * Where failures of each variant are read: the bundle's own errors beside the requests that
 * failed before any model answered them (no bundle served them, so no metric above has them).
 */
function Failures({ failures }) {
  return html`<table class="failures">
    <caption>
      Failures per variant
    </caption>
    <thead>
      <tr>
        <th scope="col">variant</th>
        <th scope="col" class="num">requests</th>
        <th scope="col" class="num">errors</th>
        <th scope="col" class="num">failed before a model answered</th>
      </tr>
    </thead>
    <tbody>
      ${['A', 'B'].map((v) => {
        const f = failures?.[v];
        return html`<tr data-variant=${v}>
          <th scope="row">${v}</th>
          <td class="num">${count(f?.requests)}</td>
          <td class="num">${count(f?.errors)}</td>
          <td class="num" data-failed-before-model>${count(f?.failedBeforeModel)}</td>
        </tr>`;
      })}
    </tbody>
  </table>`;
}

function Analysis({ a, id, role, reload }) {
  const promotable = a.overall.winner !== undefined && a.status === 'running';
  const cdf = mergeCdf(a.cdf.A, a.cdf.B);
  return html`<section data-loaded="experiment" aria-label=${`Experiment ${id}`}>
    <h2>
      ${'Verdict: '}<span data-verdict=${a.overall.verdict}
        >${VERDICTS[a.overall.verdict] ?? a.overall.verdict}</span
      >${a.overall.winner ? ` — promote ${a.overall.winner}` : ''}
    </h2>
    <p>
      ${a.overall.reason}${a.overall.missing?.length ? ` Missing: ${a.overall.missing.join('; ')}.` : ''}
    </p>
    <p>
      ${'status '}<strong data-status=${a.status}>${a.status}</strong
      >${'; A = '}<code>${short(a.bundles.A)}</code>${', B = '}<code>${short(a.bundles.B)}</code>${`; analysed ${when(a.at)}; α = ${a.alpha}. `}<a
        href=${api.experiments.reportUrl(id)}
        target="_blank"
        rel="noopener"
        >Full report</a
      >
    </p>
    <div class="actions">
      <${ActionButton}
        role=${role}
        label="Promote"
        disabled=${!promotable}
        confirm=${`Roll out arm ${a.overall.winner ?? '?'} to the experiment's devices?`}
        run=${() => api.experiments.promote(id)}
        onDone=${reload}
      />
      ${
        a.status === 'running'
          ? html`<${ActionButton}
              role=${role}
              label="Abort"
              confirm="Abort and send every device back to A?"
              run=${() => api.experiments.abort(id, 'aborted from the dashboard')}
              onDone=${reload}
            />`
          : null
      }
    </div>
    <div class="scroll" tabindex="0" role="region" aria-label="Metrics table (scrolls sideways)">
      <table class="verdicts">
        <caption>
          Metrics (B − A)
        </caption>
        <thead>
          <tr>
            <th scope="col">metric</th>
            <th scope="col">tested over</th>
            <th scope="col" class="num">n A</th>
            <th scope="col" class="num">n B</th>
            <th scope="col">effect [interval]</th>
            <th scope="col" class="num">always-valid p</th>
            <th scope="col">verdict</th>
            <th scope="col">sample size</th>
          </tr>
        </thead>
        <tbody>
          ${a.metrics.map((m) => {
            const need = m.requiredPerArm;
            const have = Math.min(m.analysed.A, m.analysed.B);
            return html`<tr>
              <td>${m.label}</td>
              <td>${m.unitOfAnalysis}</td>
              <td class="num">${m.analysed.A}</td>
              <td class="num">${m.analysed.B}</td>
              <td>${effect(m)}</td>
              <td class="num">
                ${m.alwaysValidP === null || m.alwaysValidP === undefined ? '—' : m.alwaysValidP.toPrecision(3)}
              </td>
              <td>${m.verdict}</td>
              <td>
                ${need ? html`<progress max=${need} value=${Math.min(have, need)} aria-label=${`${m.label}: ${have} of ${need} per arm`}></progress> ${have}/${need}` : '—'}
              </td>
            </tr>`;
          })}
        </tbody>
      </table>
    </div>
    <${Failures} failures=${a.failures} />
    <div class="charts">
      ${
        cdf.x.length > 1 &&
        html`<${Chart}
          title="e2e latency CDF"
          x=${cdf.x}
          xLog=${true}
          xLabel="latency, ms (log scale)"
          unit="fraction of requests"
          caption="share of requests at or below each latency"
          series=${[
            { label: 'A', values: cdf.A },
            { label: 'B', values: cdf.B },
          ]}
        />`
      }
      ${
        a.timeline.length > 0 &&
        html`<${Chart}
          title="Sample size over time"
          x=${a.timeline.map((b) => b.startMs)}
          time=${true}
          unit="requests per bucket"
          series=${[
            { label: 'A', values: a.timeline.map((b) => b.A) },
            { label: 'B', values: a.timeline.map((b) => b.B) },
          ]}
        />`
      }
    </div>
  </section>`;
}

function Plan({ from }) {
  const [form, setForm] = useState({ metric: 'accuracy', mde: '0.02', baseline: '0.9' });
  const [plan, setPlan] = useState(undefined);
  const [error, setError] = useState(undefined);
  const set = (k) => (e) => setForm({ ...form, [k]: e.currentTarget.value });
  const run = async (e) => {
    e.preventDefault();
    setError(undefined);
    try {
      setPlan(
        await api.experiments.plan({
          metric: form.metric,
          mde: Number(form.mde),
          ...(form.baseline ? { baseline: Number(form.baseline) } : {}),
          ...(from ? { from: { experiment: from } } : {}),
        }),
      );
    } catch (err) {
      setError(err);
    }
  };
  return html`<section class="card">
    <h2>Plan calculator</h2>
    <form class="form" onSubmit=${run}>
      <label for="pl-metric">Metric</label>
      <select id="pl-metric" value=${form.metric} onChange=${set('metric')}>
        <option value="accuracy">accuracy</option>
        <option value="latency">latency</option>
      </select>
      <label for="pl-mde"
        >Smallest change to detect (accuracy: points as a fraction; latency: relative)</label
      >
      <input id="pl-mde" value=${form.mde} onInput=${set('mde')} />
      <label for="pl-base">Baseline (accuracy: proportion; latency: ms)</label>
      <input id="pl-base" value=${form.baseline} onInput=${set('baseline')} />
      <button type="submit">Size it${from ? ` from ${from}` : ''}</button>
      <${ErrorNote} error=${error} />
    </form>
    ${
      plan &&
      html`<dl>
        <dt>devices per arm</dt>
        <dd>
          ${plan.devicesPerArm.sequential} (sequential), ${plan.devicesPerArm.fixed} (fixed horizon)
        </dd>
        ${
          plan.requestsPerArm
            ? html`<dt>requests per arm</dt>
                <dd>
                  ${plan.requestsPerArm.sequential} (sequential), ${plan.requestsPerArm.fixed}
                  (fixed)
                </dd>`
            : null
        }
        <dt>α, power</dt>
        <dd>${plan.alpha}, ${plan.power}</dd>
        ${plan.notes.map((n) => html`<dd class="muted">${n}</dd>`)}
      </dl>`
    }
  </section>`;
}

export function ExperimentsPage({ role, selected }) {
  const [list, error] = useLive(() => api.experiments.list(), ['experiments', 'rollouts']);
  const first = list?.[0];
  const id = selected ?? (first ? idOf(first) : undefined);
  const [analysis, aError, reload] = useLive(
    () => (id ? api.experiments.analysis(id) : Promise.resolve(undefined)),
    ['telemetry', 'experiments', 'rollouts'],
    [id],
  );
  return html`<h1>Experiments</h1>
    <${ErrorNote} error=${error ?? aError} />
    ${
      list &&
      html`<nav aria-label="Experiments" class="tabs" data-loaded="experiments">
        ${list.length === 0 ? html`<p>No experiments yet.</p>` : null}
        ${list.map(
          (e) =>
            html`<a
              href=${`#/experiments/${encodeURIComponent(idOf(e))}`}
              aria-current=${idOf(e) === id ? 'page' : undefined}
              >${idOf(e)} (${e.state.status})</a
            >`,
        )}
      </nav>`
    }
    ${analysis && html`<${Analysis} a=${analysis} id=${id} role=${role} reload=${reload} />`}
    <${Plan} from=${id} />`;
}
