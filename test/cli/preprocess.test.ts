// `bmfleet preprocess`: the tensor written as .npy equals what the shared preprocessing gives the
// agent, and --compare measures it against a reference made by OpenCV + NumPy
// (test/fixtures/preprocess/opencv/generate.py).
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeNpy } from '../../shared/npy.js';
import { parsePreprocessSpec, preprocessImage } from '../../shared/preprocess/index.js';
import { tempDir } from '../../harness/controller/test-controller.js';
import { runCli, type CliRun } from '../../harness/cli.js';

const photos = process.env.BMFLEET_PHOTO_DIR ?? '/var/cache/bmfleet-testdata/photos';
const fixture = (name: string): string =>
  fileURLToPath(new URL(`../fixtures/preprocess/opencv/${name}`, import.meta.url));
const reference = fixture('chelsea-reference.npy');
const specFile = fixture('chelsea-reference.spec.json');

const cli = (...argv: string[]): Promise<CliRun> => runCli(argv);

if (!existsSync(join(photos, 'chelsea.png'))) {
  t.plan(0, `photo folder ${photos} missing: preprocess command tests skipped`);
} else {
  const image = join(photos, 'chelsea.png');

  t.test('--out writes the agent tensor as .npy; --compare against OpenCV is exact', async (t) => {
    const dir = await tempDir('bmf-preprocess-');
    const out = join(dir, 'x.npy');
    const r = await cli(
      'preprocess',
      image,
      '--spec',
      specFile,
      '--out',
      out,
      '--compare',
      reference,
    );
    t.equal(r.code, 0, r.err);
    const written = decodeNpy(readFileSync(out));
    const spec = parsePreprocessSpec(JSON.parse(readFileSync(specFile, 'utf8')));
    const agent = await preprocessImage(readFileSync(image), spec);
    t.equal(written.descr, '<f4');
    t.same(written.shape, [1, 3, 32, 40]);
    t.same([...written.values], [...agent.data], 'the .npy holds the agent tensor');
    t.match(r.out, /tensor float32 \[1, 3, 32, 40\] nchw rgb, interpolation INTER_LINEAR/);
    t.match(r.out, /max abs difference\s+0\.000\n/);
    t.match(r.out, /off by more than 1\s+0\.00 %/);
  });

  t.test('--compare reports the libvips kernel off from OpenCV', async (t) => {
    const dir = await tempDir('bmf-preprocess-');
    const spec = join(dir, 'spec.json');
    const json = JSON.parse(readFileSync(specFile, 'utf8'));
    await writeFile(spec, JSON.stringify({ ...json, interpolation: 'sharp_linear' }));
    const r = await cli('preprocess', image, '--spec', spec, '--compare', reference);
    t.equal(r.code, 0, r.err);
    const max = Number(/max abs difference\s+([\d.]+)/.exec(r.out)?.[1]);
    const share = Number(/off by more than 1\s+([\d.]+) %/.exec(r.out)?.[1]);
    t.ok(max > 1, `max ${max} levels`);
    t.ok(share > 0, `${share} % off by more than one level`);
  });

  t.test('mismatched shape or dtype and bad files get typed errors', async (t) => {
    const dir = await tempDir('bmf-preprocess-');
    const write = async (name: string, spec: unknown): Promise<string> => {
      const p = join(dir, name);
      await writeFile(p, JSON.stringify(spec));
      return p;
    };
    const json = JSON.parse(readFileSync(specFile, 'utf8'));
    const other = await write('other.json', { ...json, input_dims: [32, 32] });
    const quant = await write('q.json', { ...json, output: { dtype: 'int8', scale: 0.02 } });
    const notNpy = join(dir, 'bad.npy');
    await writeFile(notNpy, 'not numpy');
    const cases: [string[], RegExp][] = [
      [['--spec', other, '--compare', reference], /^BMF_ERR_TENSOR_MISMATCH: .*shape/],
      [['--spec', quant, '--compare', reference], /^BMF_ERR_TENSOR_MISMATCH: .*int8/],
      [['--spec', specFile, '--compare', notNpy], /^BMF_ERR_NPY_INVALID/],
      [['--spec', join(dir, 'missing.json')], /^BMF_ERR_IO/],
      [['--spec', notNpy], /^BMF_ERR_PREPROCESS_SPEC/],
      [[], /^BMF_ERR_USAGE/],
    ];
    for (const [args, err] of cases) {
      const r = await cli('preprocess', image, ...args);
      t.not(r.code, 0, args.join(' '));
      t.match(r.err, err, args.join(' '));
    }
  });
}
