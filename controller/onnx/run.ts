// onnxruntime-node convenience: the controller's one way to execute an ONNX graph on the host
// (validation, shape discovery, calibration). Tensors in and out are shared/tensor.ts values.
import * as ort from 'onnxruntime-node';
import { bmfError } from '../../shared/errors.js';
import type { Tensor, TensorDtype } from '../../shared/tensor.js';

export interface OnnxSessionOptions {
  /** 'disabled' keeps every node of the graph as written (needed to read intermediate values). */
  readonly graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  readonly intraOpNumThreads?: number;
  readonly interOpNumThreads?: number;
  /**
   * false: idle intra-op threads sleep instead of spin-waiting between kernels (onnxruntime's
   * session config key session.intra_op.allow_spinning). Spinning burns a core per idle thread,
   * which on a shared host takes CPU from the very threads doing the work.
   */
  readonly allowSpinning?: boolean;
}

export interface OnnxSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(
    feeds: Readonly<Record<string, Tensor>>,
    outputs?: readonly string[],
  ): Promise<Record<string, Tensor>>;
  release(): Promise<void>;
}

const ORT_TO_DTYPE: Readonly<Record<string, TensorDtype>> = {
  float32: 'float32',
  int8: 'int8',
  uint8: 'uint8',
  int32: 'int32',
  int64: 'int64',
  float16: 'float16',
};

function toOrt(t: Tensor): ort.Tensor {
  return new ort.Tensor(t.dtype, t.data as never, [...t.shape]);
}

function fromOrt(name: string, t: ort.Tensor): Tensor {
  const dtype = ORT_TO_DTYPE[t.type];
  if (!dtype) {
    throw bmfError('BMF_ERR_MODEL_UNSUPPORTED', {
      reason: `output ${name} has element type ${t.type}`,
    });
  }
  return { dtype, shape: [...t.dims], data: t.data as never };
}

export async function createOnnxSession(
  bytes: Uint8Array,
  options: OnnxSessionOptions = {},
): Promise<OnnxSession> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, {
      graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
      ...(options.intraOpNumThreads ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
      ...(options.interOpNumThreads ? { interOpNumThreads: options.interOpNumThreads } : {}),
      ...(options.allowSpinning === false
        ? { extra: { session: { intra_op: { allow_spinning: '0' } } } }
        : {}),
    });
  } catch (e) {
    throw bmfError(
      'BMF_ERR_MODEL_UNSUPPORTED',
      { reason: `onnxruntime cannot load the model: ${(e as Error).message}` },
      { cause: e },
    );
  }
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    async run(feeds, outputs) {
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = toOrt(t);
      let result: ort.InferenceSession.OnnxValueMapType;
      try {
        result = outputs ? await session.run(ortFeeds, [...outputs]) : await session.run(ortFeeds);
      } catch (e) {
        throw bmfError(
          'BMF_ERR_RUNTIME_INFER',
          { reason: `onnxruntime: ${(e as Error).message}` },
          { cause: e },
        );
      }
      const out: Record<string, Tensor> = {};
      for (const [name, v] of Object.entries(result)) out[name] = fromOrt(name, v as ort.Tensor);
      return out;
    },
    release: () => session.release(),
  };
}

/** Dims and onnxruntime element type name ('float32', 'int64', 'bool', ...) of one value. */
export interface OnnxValueShape {
  readonly dims: number[];
  readonly type: string;
}

/**
 * The dims and element type of every output of one inference, whatever its element type (bool
 * and string outputs included, which the Tensor type does not carry). Used for shape discovery.
 */
export async function runOnnxShapes(
  bytes: Uint8Array,
  feeds: Readonly<Record<string, Tensor>>,
  options: OnnxSessionOptions = {},
): Promise<Record<string, OnnxValueShape>> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, {
      graphOptimizationLevel: options.graphOptimizationLevel ?? 'disabled',
      ...(options.intraOpNumThreads ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
    });
  } catch (e) {
    throw bmfError(
      'BMF_ERR_MODEL_UNSUPPORTED',
      { reason: `onnxruntime cannot load the model: ${(e as Error).message}` },
      { cause: e },
    );
  }
  try {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = toOrt(t);
    const result = await session.run(ortFeeds);
    const shapes: Record<string, OnnxValueShape> = {};
    for (const [name, v] of Object.entries(result)) {
      const t = v as ort.Tensor;
      shapes[name] = { dims: [...t.dims], type: t.type };
    }
    return shapes;
  } catch (e) {
    throw bmfError(
      'BMF_ERR_RUNTIME_INFER',
      { reason: `onnxruntime: ${(e as Error).message}` },
      { cause: e },
    );
  } finally {
    await session.release();
  }
}

/** One inference: create a session, run, release. */
export async function runOnnx(
  bytes: Uint8Array,
  feeds: Readonly<Record<string, Tensor>>,
  options: OnnxSessionOptions = {},
): Promise<Record<string, Tensor>> {
  const session = await createOnnxSession(bytes, options);
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}
