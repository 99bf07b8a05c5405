// `bmfleet package` signs what the compile or quantize report beside the BMODEL says about the
// modeled latency and the TorchScript source: a report that is not JSON, or whose fields have the
// wrong types, is refused with BMF_ERR_COMPILE_REPORT_INVALID naming the file (it used to be
// skipped silently, or cast unchecked into the signed metadata).
import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../../harness/cli.js';
import { parseReportMetadata } from '../../controller/package/compile-report.js';

const spec = fileURLToPath(
  new URL('../fixtures/package/authored-preprocess.json', import.meta.url),
);

const refused: [why: string, report: string, reason: RegExp][] = [
  ['not JSON (cut short)', '{"modeledLatency": {"modeled": true, "perImageMs": 0.0', /not JSON/],
  [
    'a latency that is text',
    JSON.stringify({ modeledLatency: { modeled: true, perImageMs: 'fast' } }),
    /\/modeledLatency/,
  ],
  [
    'a source digest that is not one',
    JSON.stringify({
      source: { format: 'torchscript', sha256: 'x', torchVersion: '2.1.0', opset: 17 },
    }),
    /\/source\/sha256/,
  ],
];

for (const [why, report, reason] of refused) {
  t.test(`a compile report with ${why} is refused, naming the file`, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'bmf-package-report-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'compile-report.json');
    await writeFile(path, report);
    await writeFile(join(dir, 'model.bmodel'), 'not read: the report is refused first');
    const r = await runCli([
      'package',
      '--bmodel',
      join(dir, 'model.bmodel'),
      '--preprocess',
      spec,
      '--name',
      'm',
      '--version',
      '1.0.0',
      '--sequence',
      '1',
      '--chip',
      'bm1684x',
      '--precision',
      'fp32',
      '--source-model',
      join(dir, 'model.onnx'),
      '--out',
      join(dir, 'bundle'),
    ]);
    t.not(r.code, 0, 'package fails');
    t.match(r.err, 'BMF_ERR_COMPILE_REPORT_INVALID');
    t.match(r.err, path, 'the message names the file');
    t.match(r.err, reason);
  });
}

t.test('a well-formed report gives its latency and source', async (t) => {
  const source = {
    format: 'torchscript',
    sha256: 'a'.repeat(64),
    torchVersion: '2.1.0',
    opset: 17,
  } as const;
  const latency = { modeled: true, perImageMs: 1.25, batch: 1 } as const;
  const m = parseReportMetadata(
    JSON.stringify({ model: { path: 'm.onnx' }, modeledLatency: latency, source }),
    'compile-report.json',
  );
  t.same(m.modeledLatency, latency);
  t.same(m.source, source);
  const none = parseReportMetadata(
    JSON.stringify({ modeledLatency: { modeled: true, unavailable: 'no cost rows for bm1688' } }),
    'quantize_report.json',
  );
  t.same(none.modeledLatency, { modeled: true, unavailable: 'no cost rows for bm1688' });
});
