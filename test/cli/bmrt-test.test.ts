// `bmfleet bmrt-test` through cli/main.ts: on the libsophon emulator every net of each vendor
// BMODEL is listed with its real shapes (the facts of test/fixtures/bmodel/vendor-files.json) and
// one measured time per loop; on the simulator the cost-model estimate stands beside it.
import t from 'tap';
import { writeFile } from 'node:fs/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BmrtTestReport } from '../../cli/commands/bmrt-test.js';
import { tinyBmodel } from '../../harness/agent/models.js';
import { EMULATOR_DIR, bindingSkip } from '../native/libsophon-fixtures.js';
import { VENDOR_SKIP_REASON, fixtureJson, vendorDir } from '../shared/bmodel/fixtures.js';
import { runCli, type CliRun } from '../../harness/cli.js';

interface FileFacts {
  file: string;
  nets: {
    name: string;
    inputs: { name: string; shape: number[] }[];
    outputs: { name: string; shape: number[] }[];
  }[];
}

const cli = (...argv: string[]): Promise<CliRun> =>
  runCli(argv, { BMFLEET_LIBSOPHON_DIR: EMULATOR_DIR });

const dir = vendorDir();
const skip = bindingSkip() || (dir ? false : VENDOR_SKIP_REASON);
const { files } = fixtureJson<{ files: FileFacts[] }>('vendor-files.json');

for (const f of files) {
  t.test(`bmrt-test --json on ${f.file}`, { skip }, async (t) => {
    const r = await cli('bmrt-test', '--bmodel', join(dir!, f.file), '--loops', '3', '--json');
    t.equal(r.code, 0, r.err);
    const report = JSON.parse(r.out) as BmrtTestReport;
    t.equal(report.runtime, 'bmrt');
    t.equal(report.chip, 'BM1684');
    t.same(
      report.nets.map((n) => n.name),
      f.nets.map((n) => n.name),
    );
    const stage = report.nets[0]!.stages[0]!;
    t.same(
      stage.inputs.map((i) => [i.name, i.shape]),
      f.nets[0]!.inputs.map((i) => [i.name, i.shape]),
    );
    t.same(
      stage.outputs.map((o) => [o.name, o.shape]),
      f.nets[0]!.outputs.map((o) => [o.name, o.shape]),
    );
    t.equal(stage.calculateMs.length, 3, 'one time per loop');
    t.ok(stage.calculateMs.every((ms) => ms > 0));
    t.match(stage.estimate, { modeled: true, unavailable: /--onnx/ });
  });
}

t.test('text output follows bmrt_test', { skip }, async (t) => {
  const r = await cli('bmrt-test', '--bmodel', join(dir!, files[1]!.file));
  t.equal(r.code, 0, r.err);
  t.match(r.out, /\[BMRT\] load time: [\d.]+ ms/);
  t.match(r.out, /Input 0\) 'data' shape=\[ 4 3 320 320 \] dtype=INT8 scale=0.501961 zero_point=0/);
  t.match(r.out, /calculate time: [\d.]+ ms/);
});

t.test('on the simulator the cost model stands beside the measurement', async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'bmf-bmrt-test-'));
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  const file = join(tmp, 'tiny.bmodel');
  await writeFile(file, tinyBmodel('tiny-a'));
  const r = await cli('bmrt-test', '--bmodel', file, '--runtime', 'sim', '--loops', '2', '--json');
  t.equal(r.code, 0, r.err);
  const stage = (JSON.parse(r.out) as BmrtTestReport).nets[0]!.stages[0]!;
  t.equal(stage.calculateMs.length, 2);
  t.match(stage.estimate, { modeled: true, precision: 'fp32', batch: 1 });
  t.ok('ms' in stage.estimate && stage.estimate.ms > 0, 'a modeled time');
  const text = await cli('bmrt-test', '--bmodel', file, '--runtime', 'sim');
  t.match(text.out, /modeled: [\d.]+ ms \(cost model, BM1684X fp32 batch 1\); measured\/modeled/);
  const wrong = await cli('bmrt-test', '--bmodel', file, '--runtime', 'bmrt');
  t.equal(wrong.code, 1);
  t.match(wrong.err, /BMF_ERR_RUNTIME_SIM_ONLY: .*needs the sim runtime/);
  const usage = await cli('bmrt-test', '--bmodel', file, '--loops', '0');
  t.equal(usage.code, 2);
});
