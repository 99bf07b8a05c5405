// The end-to-end demo on the embedded defaults: one controller (store, keys, aedes broker, REST
// API), the Fashion-MNIST sample compiled to FP32 and quantized to INT8 for bm1684x, a simulated
// fleet of real agents, an FP32 rollout in two groups, an FP32-vs-INT8 experiment under load with
// feedback labels, its verdict, and the winner promoted through a rollout. Every step checks
// that what it claims really happened; the first failure ends the demo with an error.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createControllerClient, type ControllerClient } from '../controller/api/client.js';
import type { RolloutView } from '../controller/api/client.js';
import { validateConfig } from '../shared/config/load.js';
import { createLogger } from '../shared/log.js';
import { createKeystore } from '../shared/trust/keystore.js';
import { ControllerConfigSchema, controllerPaths } from '../controller/config.js';
import { startController, type ControllerHandle } from '../controller/main.js';
import type { Analysis } from '../controller/experiment/analyze.js';
import {
  metricVerdictWords,
  overallHeadline,
  sourceWords,
} from '../controller/experiment/report.js';
import { buildDetectModels, buildModels, detectExampleDir, exampleDir } from './models.js';
import { startFleet, type Fleet } from './fleet.js';
import { generateLoad, readBoxedImages, readEvalImages, type LoadResult } from './load.js';

export interface DemoOptions {
  readonly dataDir: string;
  readonly devices: number;
  /** How long the experiment runs under load at most. */
  readonly experimentMs: number;
  readonly perAgentRps: number;
  readonly telemetryIntervalMs: number;
  /** `detect`: the shapes detector (examples/shapes-detector) instead of Fashion-MNIST. */
  readonly model?: 'fashion-mnist' | 'detect';
  /**
   * Leave the controller and fleet running after the demo (the caller stops them); the winner
   * is then left for the operator to promote from the dashboard.
   */
  readonly keep?: boolean;
}

export interface DemoReporter {
  step(title: string): void;
  done(detail: string): void;
  info(line: string): void;
}

export interface DemoSummary {
  readonly apiUrl: string;
  readonly token: string | undefined;
  readonly experimentId: string;
  readonly reportPath: string;
  readonly analysis: Analysis;
  readonly load: LoadResult;
  /** Undefined with `keep`: the operator promotes from the dashboard. */
  readonly promotedBundle?: string;
  readonly stop: () => Promise<void>;
}

const MIN_SAMPLES = 500;
const MIN_DURATION_MS = 15_000;

/**
 * The analysis names a winner only once `promote` accepts it (minimum samples per arm and
 * minimum duration, below): the experiment runs until then, or until `experimentMs`.
 */
function decided(a: Analysis | undefined): boolean {
  return a?.overall.winner !== undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(250);
  }
}

async function rolloutCompleted(
  api: ControllerClient,
  id: string,
  timeoutMs: number,
): Promise<RolloutView> {
  return waitFor(`rollout ${id}`, timeoutMs, async () => {
    const r = await api.rollouts.get(id);
    if (['paused', 'rolled_back', 'cancelled'].includes(r.status)) {
      throw new Error(`rollout ${id} ended ${r.status}`);
    }
    return r.status === 'completed' ? r : undefined;
  });
}

function fmtMs(x: number): string {
  return Math.abs(x) < 1 ? `${(x * 1000).toFixed(1)} us` : `${x.toFixed(3)} ms`;
}
function fmtCount(x: number): string {
  return x.toFixed(3);
}
function fmtPt(x: number): string {
  return `${(x * 100).toFixed(2)} pt`;
}

/** One line per metric: effect (B - A) with its interval, the verdict, where latencies come from. */
export function verdictLines(a: Analysis): string[] {
  return a.metrics.map((m) => {
    const f = m.unit === 'ms' ? fmtMs : m.unit === 'count' ? fmtCount : fmtPt;
    const interval =
      m.verdict === 'modeled' ? '(model figure)' : `[${f(m.effect.low)}, ${f(m.effect.high)}]`;
    const source = sourceWords(m);
    const shown = m.descriptive ? ' (shown, never decides)' : '';
    return `${m.label.padEnd(20)} ${f(m.effect.estimate).padStart(10)}  ${interval}  ${metricVerdictWords(m)}${shown}${source ? `; ${source}` : ''}`;
  });
}

export async function runDemo(opts: DemoOptions, out: DemoReporter): Promise<DemoSummary> {
  const stack: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const s of stack.splice(0).reverse()) await s().catch(() => undefined);
  };
  try {
    out.step('Controller: store, signing keys, embedded MQTT broker, REST API');
    const config = validateConfig(ControllerConfigSchema, {
      dataDir: opts.dataDir,
      broker: { embedded: { host: '127.0.0.1', port: 0 } },
      api: { host: '127.0.0.1', port: 0 },
      rollout: { tickMs: 250 },
      logLevel: 'error',
    });
    const controller: ControllerHandle = await startController(config);
    stack.push(() => controller.stop());
    // The token the controller generated now, or the one an earlier run left in its data dir.
    const token =
      controller.generatedToken ??
      (await readFile(controllerPaths(config).operatorToken, 'utf8')).trim();
    const api = createControllerClient({ baseUrl: controller.apiUrl, token });
    out.done(`API ${controller.apiUrl}, broker ${controller.brokerUrl}`);
    out.info(
      `    dashboard (watch the rollout and the experiment live): ${controller.apiUrl}/\n` +
        `    sign in with the operator token: ${token}`,
    );

    const detect = opts.model === 'detect';
    out.step(
      `Compile FP32 and quantize INT8 (${detect ? 'shapes detector' : 'Fashion-MNIST CNN'}, bm1684x, simulator target)`,
    );
    const keys = createKeystore(controllerPaths(config).keysDir);
    const models = await (detect ? buildDetectModels : buildModels)({
      workDir: join(opts.dataDir, 'build'),
      signers: await keys.signers('bundle'),
      chip: 'bm1684x',
      now: new Date(),
    });
    if (!(models.fp32.cosine >= 0.99999)) throw new Error(`FP32 cosine ${models.fp32.cosine}`);
    const i = models.int8;
    const modeled = `modeled latency FP32 ${fmtMs(models.fp32.modeledMs ?? NaN)}, INT8 ${fmtMs(i.modeledMs ?? NaN)}`;
    out.done(
      detect
        ? `FP32 cosine ${models.fp32.cosine.toFixed(6)}; mAP@[.5:.95] INT8 ${i.mapInt8?.toFixed(4)} vs FP32 ${i.mapFp32?.toFixed(4)} on 60 boxed eval images; ${modeled}`
        : `FP32 cosine ${models.fp32.cosine.toFixed(6)}; INT8 top-1 ${fmtPct(i.top1Int8)} vs FP32 ${fmtPct(i.top1Fp32)} on 2,000 eval images, ` +
            `agreement ${fmtPct(i.agreement)}; ${modeled}`,
    );

    out.step('Sign and register the two bundles');
    const fp32 = await api.bundles.import(models.fp32.dir);
    const int8 = await api.bundles.import(models.int8.dir);
    out.done(`fp32 ${fp32.digest.slice(0, 12)}, int8 ${int8.digest.slice(0, 12)}`);

    out.step(`Enroll and start ${opts.devices} simulated SE7 agents (modeled timing)`);
    const fleet: Fleet = await startFleet({
      api,
      count: opts.devices,
      stateRoot: join(opts.dataDir, 'agents'),
      telemetryIntervalMs: opts.telemetryIntervalMs,
      ...(process.env.BMFLEET_DEMO_DEBUG
        ? { logger: createLogger({ program: 'agent', level: 'debug' }) }
        : {}),
    });
    stack.push(() => fleet.stop());
    await waitFor('every device online', 30_000, async () => {
      const devices = await api.devices.list();
      return devices.filter((d) => d.online).length >= opts.devices ? true : undefined;
    });
    out.done(`${opts.devices} devices online`);

    out.step('Roll FP32 out in two groups (25%, then the rest)');
    const rollout = await api.rollouts.create({
      bundle: fp32.digest,
      filter: { chip: 'bm1684x' },
      groups: [{ percent: 25 }, { percent: 75 }],
      errorThreshold: { percent: 20, minFinished: 1 },
      onError: 'rollback',
      deviceTimeoutMs: 60_000,
    });
    // A bound against a stuck rollout, not a speed target: on a loaded 2-core machine the first
    // rollout (every agent fetching and verifying its bundle) took more than 20 s.
    const fp32Rollout = await rolloutCompleted(api, rollout.id, 90_000).catch(
      async (e: unknown) => {
        const devices = await api.devices.list();
        out.info(JSON.stringify(await api.rollouts.get(rollout.id)).slice(0, 3000));
        out.info(JSON.stringify(devices).slice(0, 3000));
        throw e;
      },
    );
    for (const a of fleet.agents) {
      if (!a.service.ready())
        throw new Error(`${a.config.deviceId} is not serving after the rollout`);
    }
    out.done(`rollout ${fp32Rollout.id} completed; every agent serving FP32`);

    out.step('Experiment: FP32 (A) vs INT8 (B), 50/50 on-device traffic split');
    const experimentId = `fp32-vs-int8-${Date.now().toString(36)}`;
    await api.experiments.create({
      id: experimentId,
      bundleA: fp32.digest,
      bundleB: int8.digest,
      population: { chip: 'bm1684x' },
      // Detectors: a quarter of A's requests also run on B in the shadow, for the A-vs-B
      // matched-box agreement beside precision and recall.
      allocation: { kind: 'traffic', weightB: 0.5, ...(detect && { shadowRate: 0.25 }) },
      metrics: { stages: ['infer', 'e2e'] },
      guardrails: { maxErrorRateIncrease: 0.01, maxAccuracyDrop: 0.02 },
      minSamples: MIN_SAMPLES,
      minDurationMs: MIN_DURATION_MS,
    });
    await api.experiments.start(experimentId);
    await waitFor('both variants active on every agent', 60_000, async () =>
      fleet.agents.every((a) => a.service.models().length >= 2) ? true : undefined,
    );
    const images = detect
      ? await readBoxedImages(await detectExampleDir())
      : await readEvalImages(await exampleDir());
    const abort = new AbortController();
    const started = Date.now();
    let analysis: Analysis | undefined;
    let lastLook = 0;
    const load = generateLoad({
      agents: fleet.agents,
      images,
      perAgentRps: opts.perAgentRps,
      signal: abort.signal,
      until: () => Date.now() - started > opts.experimentMs || decided(analysis),
    });
    // Look at the results while the experiment runs (the sequential test allows it).
    while (Date.now() - started < opts.experimentMs + 5_000) {
      await sleep(2_000);
      if (Date.now() - started < 12_000 || Date.now() - lastLook < 4_000) continue;
      lastLook = Date.now();
      analysis = await api.experiments.analysis(experimentId);
      out.info(
        `  look at ${((Date.now() - started) / 1000).toFixed(0)} s: n A ${analysis.samples.A}, B ${analysis.samples.B}: ${overallHeadline(analysis.overall)}`,
      );
      if (decided(analysis)) break;
    }
    abort.abort();
    const loadResult = await load;
    if (loadResult.failed > 0) throw new Error(`${loadResult.failed} requests failed under load`);
    await sleep(opts.telemetryIntervalMs * 2 + 500); // last telemetry reports land
    analysis = await api.experiments.analysis(experimentId);
    out.done(
      `${loadResult.requests} requests (A ${loadResult.byVariant.a ?? loadResult.byVariant.A ?? 0}, B ${loadResult.byVariant.b ?? loadResult.byVariant.B ?? 0}), 0 failed`,
    );

    out.step('Verdict (B - A, with intervals)');
    for (const line of verdictLines(analysis)) out.info(`  ${line}`);
    out.done(`${overallHeadline(analysis.overall)}: ${analysis.overall.reason}`);
    const reportHtml = await api.experiments.report(experimentId);
    const reportPath = join(opts.dataDir, `${experimentId}.html`);
    await mkdir(opts.dataDir, { recursive: true });
    await writeFile(reportPath, reportHtml);

    if (!analysis.overall.winner) {
      throw new Error(`no winner to promote: ${analysis.overall.reason}`);
    }
    if (opts.keep) {
      out.step('Promote the winner: left to you, from the dashboard');
      out.done(
        `${analysis.overall.winner} wins: open ${controller.apiUrl}/#/experiments/${experimentId} and press Promote`,
      );
      return {
        apiUrl: controller.apiUrl,
        token,
        experimentId,
        reportPath,
        analysis,
        load: loadResult,
        stop: stopAll,
      };
    }
    out.step('Promote the winner through a rollout');
    const promoted = await api.experiments.promote(experimentId);
    if (!promoted.state.rolloutId) throw new Error(`promote of ${experimentId} started no rollout`);
    const promotedBundle = promoted.state.winner === 'A' ? fp32.digest : int8.digest;
    const promotion = await rolloutCompleted(api, promoted.state.rolloutId, 90_000);
    out.done(
      `winner ${promoted.state.winner} (${promoted.state.winner === 'A' ? 'FP32' : 'INT8'}) rolled out by ${promotion.id}`,
    );

    if (!opts.keep) await stopAll();
    return {
      apiUrl: controller.apiUrl,
      token,
      experimentId,
      reportPath,
      analysis,
      load: loadResult,
      promotedBundle,
      stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

function fmtPct(x: number | null | undefined): string {
  return x === null || x === undefined ? 'n/a' : `${(x * 100).toFixed(2)}%`;
}
