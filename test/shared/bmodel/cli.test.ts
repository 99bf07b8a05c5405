// `bmfleet bmodel inspect` through the real dispatcher with captured streams.
import t from 'tap';
import { join } from 'node:path';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { VENDOR_SKIP_REASON, fixtureText, syntheticBmodel, vendorDir } from './fixtures.js';
import { runCli } from '../../../harness/cli.js';

const dir = vendorDir();
t.test('inspect a real vendor BMODEL', { skip: dir ? false : VENDOR_SKIP_REASON }, async (t) => {
  if (!dir) return;
  const file = join(dir, 'face_detection_int8_b4.bmodel');
  const text = await runCli(['bmodel', 'inspect', file]);
  t.equal(text.code, 0, text.err);
  t.equal(text.out, fixtureText('face_detection_int8_b4.info.txt'), 'matches the golden printout');
  t.match(
    text.out,
    /^bmodel version: B\.2\.2\nchip: BM1684\ncreate time: Wed Dec 23 21:07:38 2020\n/,
  );
  t.match(text.out, /input: data, \[4, 3, 320, 320\], int8, scale: 0\.501961, zero point: 0\n/);

  const json = await runCli(['bmodel', 'inspect', file, '--json']);
  t.equal(json.code, 0, json.err);
  const info = JSON.parse(json.out);
  t.match(info, { version: 'B.2.2', chip: 'BM1684', kernelModule: null, simulator: false });
  t.equal(info.nets[0].name, 'mxnet-mdoel_bmnetc');
  t.match(info.nets[0].stages[0].inputs[0], {
    name: 'data',
    dtype: 'INT8',
    storeMode: '4N',
    shape: [4, 3, 320, 320],
  });
  t.equal(info.nets[0].stages[0].outputs.length, 9);
  t.match(info.memory, { coeff: 1167440, host: 0 });
  t.equal(info.memory.device, info.memory.coeff + info.memory.instruct + info.memory.runtime);
});

t.test('inspect a written BMODEL and bad input', async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'bmf-bmodel-'));
  const good = join(tmp, 'synthetic.bmodel');
  writeFileSync(good, syntheticBmodel());
  const ok = await runCli(['bmodel', 'inspect', good]);
  t.equal(ok.code, 0);
  t.match(ok.out, /kernel_module name: libbm1684x_kernel_module\.so\nkernel_module size: 1024\n/);
  t.match(ok.out, /net 1: \[tiny\] {2}dynamic\n/);
  t.match(ok.out, /input: x, \[max:1, max:8\], bfloat16, scale: 1, zero point: 0\n/);

  const bad = join(tmp, 'bad.bmodel');
  writeFileSync(bad, new Uint8Array(10));
  const r = await runCli(['bmodel', 'inspect', bad]);
  t.equal(r.code, 1);
  t.match(r.err, /^BMF_ERR_BMODEL_TRUNCATED: /);

  const usage = await runCli(['bmodel', 'inspect']);
  t.equal(usage.code, 2);
  t.match(usage.err, /BMF_ERR_USAGE/);
  const missing = await runCli(['bmodel', 'inspect', join(tmp, 'nope.bmodel')]);
  t.match(missing.err, /BMF_ERR_IO/);
});
