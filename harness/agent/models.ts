// Test models: the tiny ONNX classifiers in test/fixtures/agent wrapped as simulator BMODELs with
// shared/bmodel's writer, plus the golden set generated next to them (make_models.py).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { vendorTime, writeBmodel } from '../../shared/bmodel/write.js';
import type { Tensor } from '../../shared/tensor.js';
import { parseDigest, type Digest } from '../../shared/ids.js';
import type { GoldenSet, ModelSpec } from '../../agent/serve/types.js';

export const FIXTURES = new URL('../../test/fixtures/agent/', import.meta.url);
export type TinyModel = 'tiny-a' | 'tiny-b' | 'tiny-bad';

export function sha256(bytes: Uint8Array): Digest {
  return parseDigest(createHash('sha256').update(bytes).digest('hex'));
}

export function tinyOnnx(name: TinyModel): Uint8Array {
  return readFileSync(new URL(`${name}.onnx`, FIXTURES));
}

/** `variant` changes the creation time, so the bytes (and digest) differ with the same weights. */
export function tinyBmodel(name: TinyModel, chip = 'BM1684X', variant = 0): Uint8Array {
  return writeBmodel({
    chip,
    // A fixed creation time keeps the bytes (and so the digest) the same on every call.
    time: vendorTime(new Date(Date.UTC(2026, 0, 1) + variant * 1000)),
    nets: [
      {
        name: 'tiny',
        stages: [
          {
            inputs: [{ name: 'input', dtype: 'FP32', shape: [1, 3, 8, 8] }],
            outputs: [{ name: 'logits', dtype: 'FP32', shape: [1, 4] }],
          },
        ],
      },
    ],
    simulator: { payload: tinyOnnx(name) },
  });
}

interface GoldenFile {
  readonly shape: number[];
  readonly labels: number[];
  readonly inputs: string[];
}

export function goldenInputs(): { inputs: Record<string, Tensor>[]; labels: number[] } {
  const g = JSON.parse(readFileSync(new URL('golden.json', FIXTURES), 'utf8')) as GoldenFile;
  const inputs = g.inputs.map((b64) => {
    const buf = Buffer.from(b64, 'base64');
    const data = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
    return { input: { dtype: 'float32', shape: g.shape, data } as Tensor };
  });
  return { inputs, labels: g.labels };
}

export function goldenSet(): GoldenSet {
  return goldenInputs();
}

/** The bundle digest tinySpec gives model `name` (a digest of its name: no bundle is packed). */
export function tinyBundleDigest(name: string): Digest {
  return sha256(new TextEncoder().encode(`bundle-${name}`));
}

export function tinySpec(name: TinyModel, overrides: Partial<ModelSpec> = {}): ModelSpec {
  const bmodel = tinyBmodel(name);
  const bmodelDigest = sha256(bmodel);
  return {
    bundleDigest: tinyBundleDigest(name),
    version: name,
    bmodel,
    bmodelDigest,
    labels: ['zero', 'one', 'two', 'three'],
    golden: goldenSet(),
    gate: { minAccuracy: 0.9, minCosine: 0 },
    ...overrides,
  };
}

export interface DeviceBmodelOptions {
  /** Fills the BMODEL's binary, so two of the same shape differ in bytes and digest. */
  readonly seed?: number;
  /** FP32 shapes of the one input and the one output (default: the tiny classifier's). */
  readonly input?: readonly number[];
  readonly output?: readonly number[];
  readonly outputName?: string;
  /** Device memory the net asks for. */
  readonly ctxSize?: number;
}

/**
 * A device BMODEL (no simulator payload, so the bmrt runtime loads it on the libsophon
 * emulator): one net `net` with one FP32 input and output.
 */
export function deviceBmodel(o: DeviceBmodelOptions = {}): Uint8Array {
  return writeBmodel({
    chip: 'BM1684X',
    nets: [
      {
        name: 'net',
        stages: [
          {
            inputs: [{ name: 'input', dtype: 'FP32', shape: [...(o.input ?? [1, 3, 8, 8])] }],
            outputs: [
              {
                name: o.outputName ?? 'logits',
                dtype: 'FP32',
                shape: [...(o.output ?? [1, 4])],
              },
            ],
            ctxSize: o.ctxSize ?? 1 << 16,
          },
        ],
      },
    ],
    binary: new Uint8Array(4096).fill(o.seed ?? 0),
  });
}
