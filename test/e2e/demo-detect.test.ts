// `npm run demo -- --model detect`, smaller: the shapes detector's FP32 and INT8 bundles (golden
// mAP gate) rolled out to real agents over MQTT, an FP32-vs-INT8 experiment under load with box
// feedback, and its detection metrics (precision, recall, post-processing latency) with intervals.
import t from 'tap';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDemo } from '../../demo/run.js';

t.test('the detection demo compares precision, recall and post-processing', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'bmf-e2e-demo-detect-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const steps: string[] = [];
  const done: string[] = [];
  const summary = await runDemo(
    {
      dataDir,
      devices: 4,
      experimentMs: 240_000,
      perAgentRps: 40,
      telemetryIntervalMs: 500,
      model: 'detect',
    },
    { step: (s) => steps.push(s), done: (d) => done.push(d), info: (l) => t.comment(l) },
  );
  t.equal(done.length, steps.length, 'every step finished');
  t.match(done[1], /mAP@\[\.5:\.95\] INT8 0\.\d{4} vs FP32 0\.\d{4} on 60 boxed eval images/);
  t.equal(summary.load.failed, 0, 'no failed request');
  const { analysis } = summary;
  for (const key of [
    'detection.precision',
    'detection.recall',
    'latency.postprocess',
    'detection.boxes_per_image',
    'detection.agreement',
  ]) {
    const m = analysis.metrics.find((x) => x.key === key);
    t.ok(m, `${key} compared`);
    t.ok(
      m && Number.isFinite(m.effect.low) && Number.isFinite(m.effect.high),
      `${key}: interval [${m?.effect.low}, ${m?.effect.high}]`,
    );
  }
  // A quarter of A's requests ran on B in the shadow too: F1 of INT8's boxes against FP32's.
  const agreement = analysis.metrics.find((x) => x.key === 'detection.agreement');
  t.ok(
    agreement && agreement.analysed.A > 0 && agreement.effect.estimate > -0.5,
    `matched-box F1 ${1 + (agreement?.effect.estimate ?? NaN)} over ${agreement?.analysed.A} images`,
  );
  // Box feedback for every answer: precision near the eval set's (AP50 0.47 at score 0.25).
  const precision = analysis.metrics.find((x) => x.key === 'detection.precision');
  t.ok(precision?.a && precision.a.estimate > 0.5, `precision A ${precision?.a?.estimate}`);
  t.ok(analysis.overall.winner, `winner ${analysis.overall.winner}: ${analysis.overall.reason}`);
  t.match(await readFile(summary.reportPath, 'utf8'), /recall @IoU 0\.5 \(box feedback\)/);
});
