// Progress for long quantization runs: a one-line bar redrawn in place on a terminal, JSON lines
// (`{"stage","done","total"}`) when stderr is a pipe or file, so scripts and CI logs can parse it.
import type { Progress } from './calibrate.js';

export interface ProgressSink {
  (p: Progress): void;
  /** Finish the current bar line (TTY) before other output. */
  end(): void;
}

const BAR = 24;

export function createProgressSink(
  stream: NodeJS.WritableStream & { isTTY?: boolean },
): ProgressSink {
  let lastStage = '';
  let lastDraw = 0;
  let open = false;
  const tty = stream.isTTY === true;
  const sink = ((p: Progress) => {
    if (!tty) {
      // One line per stage step would flood a log on 2,000 images: write at most ~20 per stage.
      const step = Math.max(1, Math.floor(p.total / 20));
      if (p.done === p.total || p.done % step === 0 || p.stage !== lastStage) {
        stream.write(`${JSON.stringify({ stage: p.stage, done: p.done, total: p.total })}\n`);
      }
      lastStage = p.stage;
      return;
    }
    const now = Date.now();
    if (p.stage === lastStage && p.done !== p.total && now - lastDraw < 50) return;
    if (p.stage !== lastStage && open) stream.write('\n');
    lastStage = p.stage;
    lastDraw = now;
    const filled = p.total > 0 ? Math.round((BAR * p.done) / p.total) : BAR;
    const pct = p.total > 0 ? Math.floor((100 * p.done) / p.total) : 100;
    stream.write(
      `\r${p.stage.padEnd(24)} [${'#'.repeat(filled)}${'.'.repeat(BAR - filled)}] ${String(pct).padStart(3)}% ${p.done}/${p.total}`,
    );
    open = true;
  }) as ProgressSink;
  sink.end = () => {
    if (tty && open) stream.write('\n');
    open = false;
    lastStage = '';
  };
  return sink;
}
