// The quantize and umodel commands through the real CLI dispatcher (cli/main.ts): bad input must
// end in the documented typed error and exit code; a good run writes its files and JSON progress.
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { runCli } from '../../../harness/cli.js';
import { toyModelBytes } from './toy-model.js';

interface Case {
  name: string;
  argv: string[];
  exit: number;
  code: string;
  match?: string;
}
const { cases } = JSON.parse(
  readFileSync(new URL('../../fixtures/quantize/cli-cases.json', import.meta.url), 'utf8'),
) as { cases: Case[] };

const tmp = mkdtempSync(join(tmpdir(), 'bmf-quantize-cli-'));

async function png(channels: 1 | 3, value: number): Promise<Buffer> {
  const img = sharp(Buffer.alloc(6 * 6 * channels, value), {
    raw: { width: 6, height: 6, channels },
  });
  return (channels === 1 ? img.toColourspace('b-w') : img).png().toBuffer();
}

writeFileSync(join(tmp, 'toy.onnx'), toyModelBytes());
writeFileSync(
  join(tmp, 'preprocess.json'),
  JSON.stringify({ resize_dims: [6, 6], pixel_format: 'gray', mean: [128], scale: [0.02] }),
);
for (const d of ['gray', 'rgb', 'empty', 'broken']) mkdirSync(join(tmp, d));
for (let i = 0; i < 8; i++) writeFileSync(join(tmp, 'gray', `${i}.png`), await png(1, i * 30));
for (let i = 0; i < 2; i++) writeFileSync(join(tmp, 'rgb', `${i}.png`), await png(3, 60));
writeFileSync(join(tmp, 'broken', 'a.png'), 'not an image');
writeFileSync(join(tmp, 'bad_table'), '# header\nconv9_out 1.0 0.0 1.0\n');
writeFileSync(join(tmp, 'qtable_bad'), 'fc9 F32\n');

t.test('umodel export and calibrate on the toy model', async (t) => {
  const e = await runCli([
    'umodel',
    'export',
    '--model',
    join(tmp, 'toy.onnx'),
    '--out',
    join(tmp, 'toy.fp32umodel'),
  ]);
  t.equal(e.code, 0, e.err);
  const c = await runCli([
    'umodel',
    'calibrate',
    join(tmp, 'toy.fp32umodel'),
    '--calibration',
    join(tmp, 'gray'),
    '--method',
    'mse',
    '--out',
    join(tmp, 'cal'),
  ]);
  t.equal(c.code, 0, c.err);
  t.ok(existsSync(join(tmp, 'cal', 'cali_table')) && existsSync(join(tmp, 'cal', 'qtable')));
  const progress = c.err
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { stage: string });
  t.ok(
    progress.some((p) => p.stage === 'calibrate: histograms'),
    'JSON progress lines off a TTY',
  );
  writeFileSync(join(tmp, 'good_table'), readFileSync(join(tmp, 'cal', 'cali_table')));
});

for (const c of cases) {
  t.test(c.name, async (t) => {
    const r = await runCli(c.argv.map((a) => a.replace('$TMP', tmp)));
    t.equal(r.code, c.exit);
    t.match(r.err, c.code);
    if (c.match) t.match(r.err, c.match);
  });
}
