// `npm run bench -- bmrt`: the libsophon binding on the emulator (0 ms device time unless stated):
//  1. binding overhead per inference, JS call to result, input 1x3x224x224 FP32, output 1x1000,
//     p50 against the same work done straight in C by libsophon-emulator-check (the baseline),
//     measured in the same run; target <= 50 us;
//  2. the event loop's longest delay while 4 inferences of 10 ms device time run at once
//     (target <= 5 ms);
//  3. RSS growth over 10,000 inferences (target <= 1 MiB), measured once RSS has stopped rising:
//     the first few thousand calls grow V8's young generation to the allocation rate (the
//     growth is flat from the start with --max-semi-space-size=1, which the board launcher
//     cross/bmfleet-agent.sh sets), which is not a leak.
// Each figure beside a baseline from the same run: the same work in C for 1, the event loop's
// delay with nothing running for 2, the warm-up's own growth for 3.
// Needs `npm run build:libsophon-emulator` and `npm run build:sophon`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { openLibsophon } from '../agent/runtime/bmrt/libsophon.js';
import { writeBmodel } from '../shared/bmodel/index.js';

const EMULATOR = new URL('../build/libsophon-emulator/', import.meta.url).pathname;
const RUNS = Number(process.env.BMFLEET_BENCH_RUNS ?? 2000);
const RSS_RUNS = Number(process.env.BMFLEET_BENCH_RSS_RUNS ?? 10_000);

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
}

/** A classifier-shaped BMODEL (no simulator payload): FP32 [1,3,224,224] -> FP32 [1,1000]. */
function classifierBmodel(): Uint8Array {
  return writeBmodel({
    chip: 'BM1684X',
    time: 'Wed Dec  2 00:00:00 2026\n',
    nets: [
      {
        name: 'bench-classifier',
        stages: [
          {
            inputs: [{ name: 'input', dtype: 'FP32', shape: [1, 3, 224, 224] }],
            outputs: [{ name: 'logits', dtype: 'FP32', shape: [1, 1000] }],
            ctxSize: 1 << 20,
          },
        ],
      },
    ],
    binary: new Uint8Array(4096),
  });
}

export async function run(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'bmf-bench-bmrt-'));
  try {
    const bytes = classifierBmodel();
    const file = join(tmp, 'classifier.bmodel');
    writeFileSync(file, bytes);
    delete process.env.BMFLEET_EMULATOR_LAUNCH_MS;
    const device = openLibsophon({ dir: EMULATOR });
    const model = await device.load(bytes);
    const net = model.nets[0]!;
    const inputs = [{ bytes: new Uint8Array(3 * 224 * 224 * 4), shape: [1, 3, 224, 224] }];
    const call = async (): Promise<number> => {
      const t0 = performance.now();
      await model.infer(net.name, inputs);
      return (performance.now() - t0) * 1000;
    };

    // 1. overhead: JS and C runs interleaved in blocks so both see the same machine load.
    for (let i = 0; i < 200; i++) await call();
    const js: number[] = [];
    const c: number[] = [];
    const block = 250;
    for (let done = 0; done < RUNS; done += block) {
      for (let i = 0; i < block; i++) js.push(await call());
      const r = spawnSync(
        join(EMULATOR, 'bin/libsophon-emulator-check'),
        ['bench', file, String(block)],
        {
          encoding: 'utf8',
        },
      );
      if (r.status !== 0) throw new Error(`baseline failed: ${r.stderr}`);
      c.push(...(JSON.parse(r.stdout) as number[]).slice(10));
    }
    const jsP50 = pct(js, 0.5);
    const cP50 = pct(c, 0.5);
    console.log(
      `binding p50 ${jsP50.toFixed(1)} us (p99 ${pct(js, 0.99).toFixed(1)}), C baseline p50 ${cP50.toFixed(1)} us: overhead ${(jsP50 - cP50).toFixed(1)} us at p50 (target <= 50), ratio ${(jsP50 / cP50).toFixed(2)}`,
    );

    // 2. event loop while 4 inferences of 10 ms device time run at once, and idle as long.
    process.env.BMFLEET_EMULATOR_LAUNCH_MS = '10';
    const h = monitorEventLoopDelay({ resolution: 1 });
    const t0 = performance.now();
    h.enable();
    for (let round = 0; round < 20; round++) {
      await Promise.all([1, 2, 3, 4].map(() => model.infer(net.name, inputs)));
    }
    h.disable();
    const busyMs = performance.now() - t0;
    delete process.env.BMFLEET_EMULATOR_LAUNCH_MS;
    const idle = monitorEventLoopDelay({ resolution: 1 });
    idle.enable();
    await new Promise((resolve) => setTimeout(resolve, busyMs));
    idle.disable();
    console.log(
      `event loop during 20 x 4 concurrent 10 ms inferences: max delay ${(h.max / 1e6).toFixed(2)} ms, p99 ${(h.percentile(99) / 1e6).toFixed(2)} ms (target max <= 5 ms); idle for as long: max ${(idle.max / 1e6).toFixed(2)} ms, p99 ${(idle.percentile(99) / 1e6).toFixed(2)} ms`,
    );

    // 3. RSS over many inferences, from where the warm-up stopped growing it (at most 20,000).
    const warmStart = process.memoryUsage().rss;
    let warm = 0;
    for (let flat = 0, last = warmStart; flat < 2 && warm < 20_000; warm += 1000) {
      for (let i = 0; i < 1000; i++) await model.infer(net.name, inputs);
      const now = process.memoryUsage().rss;
      flat = now - last < 64 * 1024 ? flat + 1 : 0;
      last = now;
    }
    const before = process.memoryUsage().rss;
    for (let i = 0; i < RSS_RUNS; i++) await model.infer(net.name, inputs);
    const growth = process.memoryUsage().rss - before;
    const counters = device.emulatorCounters();
    console.log(
      `RSS growth over ${RSS_RUNS} inferences: ${(growth / 2 ** 20).toFixed(2)} MiB (target <= 1 MiB), after a warm-up of ${warm} that grew it ${((before - warmStart) / 2 ** 20).toFixed(2)} MiB; device blocks still held: ${counters?.liveBlocks} (model memory only: 2)`,
    );
    model.unload();
    device.close();
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
