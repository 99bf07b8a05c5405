// Mutation fuzzing: every mutated BMODEL either parses or throws a BmfError with a
// BMF_ERR_BMODEL_* code; nothing else (no TypeError, RangeError, hang or huge allocation).
// Seeded so a failure reproduces: BMFLEET_FUZZ_SEED=<seed> npx tap test/shared/bmodel/fuzz.test.ts
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readBmodel } from '../../../shared/bmodel/index.js';
import { isBmfError } from '../../../shared/errors.js';
import { VENDOR_SKIP_REASON, syntheticBmodel, vendorDir } from './fixtures.js';
import { seededRandom } from '../../../shared/stats/seeded-random.js';

const seed = Number(process.env.BMFLEET_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`# fuzz seed ${seed} (rerun with BMFLEET_FUZZ_SEED=${seed})`);
const random = seededRandom(seed);
const int = (n: number): number => Math.floor(random() * n);

type Outcome = { parsed: number; codes: Map<string, number> };
type Asserts = Pick<typeof t, 'fail' | 'equal' | 'ok'>;

/** Mutate `work` in place (remembering the old bytes), parse, then restore. */
function fuzz(t: Asserts, label: string, original: Uint8Array, iterations: number): Outcome {
  const work = original.slice();
  const dv = new DataView(work.buffer);
  const fbEnd = 64 + new DataView(original.buffer, original.byteOffset).getUint32(8, true);
  const outcome: Outcome = { parsed: 0, codes: new Map() };
  let failures = 0;
  for (let i = 0; i < iterations; i++) {
    // Most mutations hit the header and flatbuffer, where the reader looks; some hit anywhere.
    const span = random() < 0.9 ? fbEnd : work.length;
    const saved: [number, number][] = [];
    const setByte = (at: number, v: number): void => {
      saved.push([at, work[at]!]);
      work[at] = v;
    };
    const setU32 = (at: number, v: number): void => {
      for (let k = 0; k < 4; k++) setByte(at + k, (v >>> (8 * k)) & 0xff);
    };
    let view = work;
    const kind = int(5);
    let what: string;
    if (kind === 0) {
      const flips = 1 + int(4);
      for (let k = 0; k < flips; k++) {
        const at = int(span);
        setByte(at, work[at]! ^ (1 << int(8)));
      }
      what = `${flips} bit flips`;
    } else if (kind === 1) {
      const to = random() < 0.8 ? int(fbEnd + 1) : int(work.length);
      view = work.subarray(0, to);
      what = `truncate to ${to}`;
    } else if (kind === 2) {
      const at = int(Math.max(1, span - 4));
      setU32(at, int(2 ** 32));
      what = `u32 overwrite at ${at}`;
    } else if (kind === 3) {
      // Length inflation: grow a 4-aligned u32 (vector/string lengths, sizes, offsets).
      const at = 64 + 4 * int((fbEnd - 68) / 4);
      setU32(at, (dv.getUint32(at, true) + 2 ** int(32)) >>> 0);
      what = `inflate u32 at ${at}`;
    } else {
      const at = 64 + int(fbEnd - 66);
      const v = int(65536);
      setByte(at, v & 0xff);
      setByte(at + 1, v >>> 8);
      what = `u16 overwrite at ${at}`;
    }
    try {
      readBmodel(view);
      outcome.parsed++;
    } catch (e) {
      if (isBmfError(e) && e.code.startsWith('BMF_ERR_BMODEL_')) {
        outcome.codes.set(e.code, (outcome.codes.get(e.code) ?? 0) + 1);
      } else if (failures++ < 5) {
        t.fail(`${label} #${i} (${what}) threw ${String(e)}`);
      }
    }
    for (let k = saved.length - 1; k >= 0; k--) work[saved[k]![0]] = saved[k]![1];
  }
  t.equal(
    failures,
    0,
    `${label}: ${iterations} mutations, every one parsed or gave BMF_ERR_BMODEL_*`,
  );
  t.ok(
    outcome.codes.size >= 3,
    `${label}: mutations reached several checks (${[...outcome.codes.keys()].join(', ')})`,
  );
  console.log(
    `# ${label}: parsed ${outcome.parsed}, errors ${JSON.stringify(Object.fromEntries(outcome.codes))}`,
  );
  return outcome;
}

const dir = vendorDir();
if (dir) {
  for (const file of ['face_detection_fp32_b1.bmodel', 'face_detection_int8_b4.bmodel']) {
    t.test(`fuzz ${file}`, async (t) => {
      fuzz(t, file, readFileSync(join(dir, file)), 5000);
    });
  }
  t.test('fuzz synthetic BMODEL', async (t) => {
    fuzz(t, 'synthetic', syntheticBmodel(), 2000);
  });
} else {
  console.log(`# fuzzing the synthetic BMODEL only: ${VENDOR_SKIP_REASON}`);
  t.test('fuzz synthetic BMODEL', async (t) => {
    fuzz(t, 'synthetic', syntheticBmodel(), 10000);
  });
}
