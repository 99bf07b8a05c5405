// Rollouts: live progress per group against the group's thresholds, health gates and their
// readings, the actions with confirmation, and a form to start a new rollout.
import { html } from './html.js';
import { useState } from 'preact/hooks';
import { api } from './api.js';
import { useLive } from './live.js';
import {
  ActionButton,
  ConfirmDialog,
  ErrorNote,
  count,
  short,
  useReturnFocus,
  when,
} from './ui.js';

const STATUS_ORDER = ['active', 'assigned', 'pending', 'failed', 'timed_out', 'rolled_back'];
const COMMANDS = {
  pause: ['running', 'awaiting_approval'],
  resume: ['paused'],
  approve: ['awaiting_approval'],
  cancel: ['running', 'paused', 'awaiting_approval'],
  rollback: ['running', 'paused', 'awaiting_approval', 'completed'],
};

function GroupBar({ rollout, group }) {
  const size = group.size || 1;
  const installed = group.counts.active ?? 0;
  const failed = (group.counts.failed ?? 0) + (group.counts.timed_out ?? 0);
  const label = `Group ${group.index + 1}: ${installed} of ${group.size} installed, ${failed} failed`;
  const current = rollout.group === group.index && rollout.status === 'running';
  const heading = `Group ${group.index + 1}${current ? ' (current)' : ''}`;
  const counts = STATUS_ORDER.filter((s) => group.counts[s])
    .map((s) => `${s.replace('_', ' ')} ${group.counts[s]}`)
    .join(' · ');
  const text = `${counts || 'none yet'} of ${group.size}`;
  return html`<div class="group" data-group=${group.index}>
    <div class="group-head">
      <span>${heading}</span>
      <span class="group-text">${text}</span>
    </div>
    <div
      class="bar"
      role="progressbar"
      aria-label=${label}
      aria-valuemin="0"
      aria-valuemax=${group.size}
      aria-valuenow=${installed}
    >
      ${STATUS_ORDER.map((s) =>
        group.counts[s]
          ? html`<span
              class=${`seg s-${s}`}
              style=${`width:${(100 * group.counts[s]) / size}%`}
            ></span>`
          : null,
      )}
      <span
        class="threshold"
        style=${`left:${rollout.spec.successThresholdPct}%`}
        title="success threshold"
      ></span>
    </div>
  </div>`;
}

function Gate({ rollout }) {
  const gate = rollout.spec.healthGate;
  const [reading] = useLive(
    () =>
      gate && rollout.status === 'running'
        ? api.telemetry.group(rollout.id, rollout.group)
        : Promise.resolve(null),
    ['telemetry', 'rollouts'],
    [rollout.id, rollout.group, rollout.status],
  );
  const e = rollout.spec.errorThreshold;
  return html`<dl class="gates">
    <dt>success threshold</dt>
    <dd>${rollout.spec.successThresholdPct} % of a group installed</dd>
    <dt>error threshold</dt>
    <dd>
      ${`${e.count !== undefined ? `${e.count} devices` : `${e.percent} %`} failed (after ${e.minFinished} finished) → ${rollout.spec.onError}`}
    </dd>
    <dt>after a group</dt>
    <dd>${rollout.spec.afterGroup === 'approval' ? 'wait for approval' : 'continue'}</dd>
    ${
      gate
        ? html`<dt>health gate</dt>
            <dd>
              soak ${gate.soakMs / 1000}
              s${gate.maxP95Ms ? `, p95 ≤ ${gate.maxP95Ms} ms` : ''}${gate.maxErrorRate !== undefined ? `, error rate ≤ ${gate.maxErrorRate}` : ''}${gate.minAccuracy !== undefined ? `, accuracy ≥ ${gate.minAccuracy}` : ''}${gate.maxP95RegressionPct !== undefined ? `, p95 regression ≤ ${gate.maxP95RegressionPct} %` : ''}
            </dd>
            <dt>gate reading</dt>
            <dd>
              ${reading?.health ? `${reading.health.requests} requests, error rate ${reading.health.errorRate.toFixed(3)}${reading.health.p95Ms !== undefined ? `, p95 ${reading.health.p95Ms.toFixed(1)} ms` : ''}${reading.health.accuracy !== undefined ? `, accuracy ${reading.health.accuracy.toFixed(3)}` : ''}` : 'no telemetry yet'}
            </dd>`
        : html`<dt>health gate</dt>
            <dd>none</dd>`
    }
  </dl>`;
}

const LIVE = new Set(['running', 'paused', 'awaiting_approval']);

/**
 * Requests that failed before any model answered them, per variant, as the reports naming this
 * rollout's bundle carried them since it began (GET /v1/telemetry): a device that took the
 * bundle sends the failures it saw before its model loaded on its first report. A rollout
 * still under way follows the telemetry; a finished one is read once.
 */
function FailedBeforeModel({ rollout }) {
  const [summary] = useLive(
    () => api.telemetry.query({ bundle: rollout.bundle, from: rollout.createdAt }),
    LIVE.has(rollout.status) ? ['telemetry'] : [],
    [rollout.id, rollout.status],
  );
  const of = (v) => {
    if (!summary) return undefined;
    const f = summary.failedBeforeModel?.[v];
    // 0 once reports came in; before any, nothing tells.
    return f ? f.requests : summary.reports > 0 ? 0 : undefined;
  };
  return html`<dl class="gates">
    <dt>failed before a model answered</dt>
    ${['A', 'B'].map(
      (v) => html`<dd data-variant=${v} data-failed-before-model>${`${v}: ${count(of(v))}`}</dd>`,
    )}
  </dl>`;
}

function Rollout({ r, role, reload }) {
  return html`<article class="card rollout" data-rollout=${r.id} aria-label=${`Rollout ${r.id}`}>
    <h2>
      ${r.id}
      <span class=${`badge st-${r.status}`} data-status=${r.status}
        >${r.status.replace('_', ' ')}</span
      >
    </h2>
    <p>
      ${'bundle '}<a href=${`#/bundles/${r.bundle}`}><code>${short(r.bundle)}</code></a
      >${`, created ${when(r.createdAt)}`}${r.reason ? `; ${r.reason}` : ''}
    </p>
    ${r.groups.map((g) => html`<${GroupBar} rollout=${r} group=${g} />`)}
    <${Gate} rollout=${r} />
    <${FailedBeforeModel} rollout=${r} />
    <div class="actions">
      ${Object.entries(COMMANDS).map(([cmd, states]) =>
        states.includes(r.status)
          ? html`<${ActionButton}
              role=${role}
              label=${cmd[0].toUpperCase() + cmd.slice(1)}
              confirm=${`${cmd} rollout ${r.id}?`}
              run=${() => api.rollouts.command(r.id, cmd)}
              onDone=${reload}
            />`
          : null,
      )}
    </div>
  </article>`;
}

function CreateRollout({ onCreated }) {
  const [bundles] = useLive(() => api.bundles.list(), [], []);
  const [form, setForm] = useState({
    bundle: '',
    chip: '',
    tag: '',
    groups: '25,75',
    afterGroup: 'continue',
    onError: 'pause',
    errorPct: '50',
  });
  const [asking, setAsking] = useState(false);
  const [error, setError] = useState(undefined);
  const set = (k) => (e) => setForm({ ...form, [k]: e.currentTarget.value });
  const body = () => {
    const [tk, tv] = form.tag.split('=');
    return {
      bundle: form.bundle || bundles?.[0]?.digest,
      filter: {
        ...(form.chip ? { chip: form.chip } : {}),
        ...(form.tag && tv !== undefined ? { tags: { [tk.trim()]: tv.trim() } } : {}),
      },
      groups: form.groups.split(',').map((p) => ({ percent: Number(p.trim()) })),
      afterGroup: form.afterGroup,
      onError: form.onError,
      errorThreshold: { percent: Number(form.errorPct), minFinished: 1 },
    };
  };
  const focus = useReturnFocus();
  const close = () => {
    setAsking(false);
    focus.closed();
  };
  const create = async () => {
    setError(undefined);
    try {
      await api.rollouts.create(body());
      close();
      onCreated();
    } catch (e) {
      setError(e);
    }
  };
  return html`<section class="card">
    <h2>New rollout</h2>
    <form
      class="form"
      onSubmit=${(e) => {
        e.preventDefault();
        setAsking(true);
      }}
    >
      <label for="ro-bundle">Bundle</label>
      <select
        id="ro-bundle"
        value=${form.bundle || bundles?.[0]?.digest || ''}
        onChange=${set('bundle')}
      >
        ${(bundles ?? []).map((b) => html`<option value=${b.digest}>${b.model} ${b.version} ${b.precision} (${short(b.digest)})</option>`)}
      </select>
      <label for="ro-chip">Chip (empty: any)</label>
      <input id="ro-chip" value=${form.chip} onInput=${set('chip')} />
      <label for="ro-tag">Tag key=value (empty: any)</label>
      <input id="ro-tag" value=${form.tag} onInput=${set('tag')} />
      <label for="ro-groups">Groups, percent of the devices each</label>
      <input id="ro-groups" value=${form.groups} onInput=${set('groups')} />
      <label for="ro-after">After each group</label>
      <select id="ro-after" value=${form.afterGroup} onChange=${set('afterGroup')}>
        <option value="continue">continue</option>
        <option value="approval">wait for approval</option>
      </select>
      <label for="ro-err">Error threshold, percent of a group</label>
      <input
        id="ro-err"
        type="number"
        min="1"
        max="100"
        value=${form.errorPct}
        onInput=${set('errorPct')}
      />
      <label for="ro-onerror">On error</label>
      <select id="ro-onerror" value=${form.onError} onChange=${set('onError')}>
        <option value="pause">pause</option>
        <option value="rollback">roll back</option>
      </select>
      ${
        asking
          ? html`<${ConfirmDialog}
              label="create"
              question="Start this rollout now?"
              onConfirm=${create}
              onCancel=${close}
            />`
          : html`<button type="submit" ref=${focus.trigger}>Create rollout</button>`
      }
      <${ErrorNote} error=${error} />
    </form>
  </section>`;
}

export function RolloutsPage({ role }) {
  const [data, error, reload] = useLive(() => api.rollouts.list(), ['rollouts']);
  return html`<h1>Rollouts</h1>
    <${ErrorNote} error=${error} />
    ${role === 'operator' ? html`<${CreateRollout} onCreated=${reload} />` : null}
    ${
      data &&
      html`<div data-loaded="rollouts">
        ${data.length === 0 ? html`<p>No rollouts yet.</p>` : null}
        ${data.map((r) => html`<${Rollout} r=${r} role=${role} reload=${reload} />`)}
      </div>`
    }`;
}
