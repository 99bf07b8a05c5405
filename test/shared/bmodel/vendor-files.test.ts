// The two real vendor BMODELs (the RetinaFace files of sophon-ai-algo/examples, commit 0746288,
// simple/retinaface/data/models/) read exactly as their facts, established independently of this
// reader, say: those live in test/fixtures/bmodel/vendor-files.json.
import t from 'tap';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatFloat, readBmodel } from '../../../shared/bmodel/index.js';
import { VENDOR_SKIP_REASON, fixtureJson, vendorDir } from './fixtures.js';

interface TensorFacts {
  name: string;
  dtype: string;
  shape: number[];
  scale?: number;
  zeroPoint?: number;
  dataType?: number;
  gmemStmode?: number;
  storeMode?: string;
}
interface FileFacts {
  file: string;
  sha256: string;
  bytes: number;
  header: Record<string, number>;
  model: Record<string, unknown>;
  nets: {
    name: string;
    dynamic: boolean;
    stageCount: number;
    ctxSize?: number;
    inputs: TensorFacts[];
    outputs: TensorFacts[];
  }[];
}

const dir = vendorDir();
const { files } = fixtureJson<{ files: FileFacts[] }>('vendor-files.json');

if (!dir) {
  for (const f of files) t.test(f.file, { skip: VENDOR_SKIP_REASON }, () => undefined);
} else {
  for (const f of files) {
    t.test(f.file, async (t) => {
      const bytes = readFileSync(join(dir, f.file));
      t.equal(bytes.length, f.bytes, 'size');
      t.equal(createHash('sha256').update(bytes).digest('hex'), f.sha256, 'sha256');
      t.same(bytes.subarray(0, 4), Buffer.from([0xee, 0xaa, 0x55, 0xff]), 'magic bytes');
      const b = readBmodel(bytes);
      t.match(b.header, f.header);
      t.same(b.header.reserved, new Array(12).fill(0));
      for (const [k, v] of Object.entries(f.model)) {
        if (v === null) t.equal((b as unknown as Record<string, unknown>)[k], undefined, `no ${k}`);
        else t.equal((b as unknown as Record<string, unknown>)[k], v, k);
      }
      t.equal(b.nets.length, f.nets.length, 'net count');
      f.nets.forEach((nf, i) => {
        const net = b.nets[i]!;
        t.equal(net.name, nf.name);
        t.equal(net.stages.length, nf.stageCount, 'stage count');
        const stage = net.stages[0]!;
        t.equal(stage.isDynamic, nf.dynamic, 'static/dynamic');
        if (nf.ctxSize !== undefined) t.equal(stage.ctxSize, nf.ctxSize, 'ctx_size');
        const check = (kind: string, got: typeof stage.inputs, want: TensorFacts[]): void => {
          t.same(
            got.map((x) => x.name),
            want.map((x) => x.name),
            `${kind} names in order`,
          );
          want.forEach((w, j) => {
            const g = got[j]!;
            t.equal(g.dtype, w.dtype, `${w.name} dtype`);
            t.same(g.shape, w.shape, `${w.name} shape`);
            if (w.scale !== undefined)
              t.equal(formatFloat(g.scale), formatFloat(w.scale), `${w.name} scale`);
            if (w.zeroPoint !== undefined)
              t.equal(g.zeroPoint, w.zeroPoint, `${w.name} zero point`);
            if (w.dataType !== undefined) t.equal(g.dataType, w.dataType, `${w.name} data_type`);
            if (w.gmemStmode !== undefined)
              t.equal(g.gmemStmode, w.gmemStmode, `${w.name} gmem_stmode`);
            if (w.storeMode !== undefined)
              t.equal(g.storeMode, w.storeMode, `${w.name} store mode`);
          });
        };
        check('input', stage.inputs, nf.inputs);
        check('output', stage.outputs, nf.outputs);
      });
    });
  }
}
