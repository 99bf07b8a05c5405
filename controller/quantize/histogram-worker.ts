// A second thread for calibration histograms. Filling the 2048-bin histograms costs about as much
// CPU as the inference itself on small models (tens of thousands of activation values per image;
// profiled in bench/calibrate.ts), and it cannot start before the first pass has seen every image
// (the bins span [0, absMax] over all of them), so on a multi-core host the tensors are split
// between the main thread and this worker. The worker receives its tensors' values as they are
// produced (transferred, not copied), then fills their histograms with the very kernel the main
// thread uses (`countBins`, its source is the worker's code), so the counts are identical.
import { Worker } from 'node:worker_threads';
import { bmfError } from '../../shared/errors.js';
import { countBins, HISTOGRAM_LANES } from './histogram.js';

export interface HistogramWorker {
  /** Hand one batch of a tensor's values to the worker (the buffer is transferred). */
  hold(name: string, values: Float32Array): void;
  /** Fill the held tensors' histograms: name -> { inv: 1/binWidth, bins }; returns lanes. */
  fill(
    bins: ReadonlyMap<string, { readonly inv: number; readonly bins: number }>,
  ): Promise<Map<string, Uint32Array>>;
  close(): Promise<void>;
}

// `__name` covers the helper some TypeScript loaders insert into function sources.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const __name = (f) => f;
const countBins = ${countBins.toString()};
const held = new Map();
parentPort.on('message', (m) => {
  if (m.kind === 'hold') {
    let list = held.get(m.name);
    if (!list) held.set(m.name, (list = []));
    list.push(m.values);
    return;
  }
  const out = [];
  for (const [name, spec] of m.bins) {
    const lanes = new Uint32Array(spec.bins * ${HISTOGRAM_LANES});
    for (const v of held.get(name) ?? []) countBins(lanes, v, spec.inv, spec.bins - 1);
    out.push([name, lanes]);
  }
  held.clear();
  parentPort.postMessage(out, out.map(([, l]) => l.buffer));
});
`;

export function createHistogramWorker(): HistogramWorker {
  const worker = new Worker(WORKER_SOURCE, { eval: true });
  let failure: Error | undefined;
  worker.on('error', (e) => (failure = e));
  return {
    hold(name, values) {
      // Only a buffer the view covers entirely is transferred; anything else is copied first.
      const own = values.byteLength === values.buffer.byteLength ? values : values.slice();
      worker.postMessage({ kind: 'hold', name, values: own }, [own.buffer as ArrayBuffer]);
    },
    fill(bins) {
      return new Promise((resolve, reject) => {
        if (failure) {
          reject(bmfError('BMF_ERR_INTERNAL', { reason: `histogram worker: ${failure.message}` }));
          return;
        }
        const onError = (e: Error): void =>
          reject(bmfError('BMF_ERR_INTERNAL', { reason: `histogram worker: ${e.message}` }));
        worker.once('error', onError);
        worker.once('message', (out: [string, Uint32Array][]) => {
          worker.off('error', onError);
          resolve(new Map(out));
        });
        worker.postMessage({ kind: 'fill', bins: [...bins] });
      });
    },
    async close() {
      await worker.terminate();
    },
  };
}
