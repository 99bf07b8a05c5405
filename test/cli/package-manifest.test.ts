// `bmfleet package`: the manifest carries the preprocessing spec as its author wrote it (defaults
// not filled in, a legacy interpolation name kept), so the signed bytes for the same input files
// stay the same however the CLI passes the spec on. Expected manifest:
// test/fixtures/package/authored-manifest.json (`created`/`expires` and the BMODEL's digest,
// which depend on the run, are set aside before comparing).
import t from 'tap';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../../harness/controller/test-controller.js';
import { runCli, type CliRun } from '../../harness/cli.js';

const example = fileURLToPath(new URL('../../examples/fashion-mnist/', import.meta.url));
const fixture = (name: string): string =>
  fileURLToPath(new URL(`../fixtures/package/${name}`, import.meta.url));

const cli = (...argv: string[]): Promise<CliRun> => runCli(argv);

/** The manifest without what a run stamps: times and the files' digests and sizes. */
function runIndependent(manifest: Record<string, unknown>): Record<string, unknown> {
  const {
    created: _c,
    expires: _e,
    files,
    ...rest
  } = manifest as {
    created: string;
    expires: string;
    files: { role: string; path: string }[];
  };
  return { ...rest, files: files.map((f) => ({ role: f.role, path: f.path })) };
}

t.test('the packed manifest keeps the authored preprocessing spec byte for byte', async (t) => {
  const dir = await tempDir('bmf-package-manifest-');
  const specPath = fixture('authored-preprocess.json');
  const compiled = await cli(
    'compile',
    '--model',
    join(example, 'model.onnx'),
    '--chip',
    'bm1684x',
    '--precision',
    'fp32',
    '--preprocess',
    specPath,
    '--out',
    join(dir, 'compiled'),
  );
  t.equal(compiled.code, 0, compiled.err);
  const bmodel = (await readdir(join(dir, 'compiled'))).find((f) => f.endsWith('.bmodel'));
  if (!bmodel) throw new Error(`no BMODEL in ${join(dir, 'compiled')}`);
  const out = join(dir, 'bundle');
  const r = await cli(
    'package',
    '--bmodel',
    join(dir, 'compiled', bmodel),
    '--preprocess',
    specPath,
    '--name',
    'fashion-mnist',
    '--version',
    '1.0.0',
    '--sequence',
    '1',
    '--chip',
    'bm1684x',
    '--precision',
    'fp32',
    '--source-model',
    join(example, 'model.onnx'),
    '--labels',
    join(example, 'labels.txt'),
    '--modeled-latency-ms',
    '0.05',
    '--out',
    out,
  );
  t.equal(r.code, 0, r.err);
  const manifest = JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  const authored = JSON.parse(await readFile(specPath, 'utf8')) as unknown;
  const inputs = manifest.inputs as { preprocess: unknown }[];
  t.same(inputs[0]?.preprocess, authored, 'inputs[0].preprocess is the file as written');
  t.strictSame(
    Object.keys(inputs[0]?.preprocess as object),
    Object.keys(authored as object),
    'same keys in the same order (no defaults filled in)',
  );
  // Compared as text: key order is part of the signed bytes.
  t.equal(
    JSON.stringify(runIndependent(manifest)),
    JSON.stringify(JSON.parse(await readFile(fixture('authored-manifest.json'), 'utf8'))),
    'manifest as packed before',
  );
});
