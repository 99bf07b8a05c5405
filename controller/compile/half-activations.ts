// FP16/BF16 activations on the sim target. tpu-mlir's F16/BF16 deploy stores each layer's output
// in the reduced format (the kernel accumulates wider inside, then rounds once on store), casts a
// float32 input to it before the first such layer, and leaves some ops in F32 (docs/vendor.md
// section 1, "F16/BF16 deploy"). The payload reproduces the stores: after every layer that the
// chip keeps in FP16/BF16, a Cast(FP32 -> FP16|BF16) -> Cast(-> FP32) pair, which onnxruntime
// executes with round to nearest even, FP16's overflow to infinity and its subnormals. Arithmetic
// inside a layer stays FP32 on the host.
import type { Chip } from '../../shared/bundle/manifest.js';
import { makeNode, ONNX_DTYPE } from '../onnx/index.js';
import type { GraphNodeInfo, OnnxModel, OnnxNode } from '../onnx/index.js';
import type { CompilePrecision } from './chip.js';

/** Why a node's output is not stored in the reduced format. */
export interface Float32Layer {
  readonly node: string;
  readonly opType: string;
  readonly reason: string;
  /** It reads float weights, which emulatePrecision stores rounded all the same. */
  readonly readsWeights: boolean;
}

export interface HalfActivationPlan {
  /** Layer outputs rounded to the format where the producing layer stores them. */
  readonly roundedOutputs: readonly string[];
  /** Float32 values (graph inputs, FP32 layers' outputs) cast to the format before a layer. */
  readonly roundedInputs: readonly string[];
  /** Constant-node weights cast to the format before a layer that reads them. */
  readonly roundedConstants: readonly string[];
  readonly float32Layers: readonly Float32Layer[];
}

// Ops whose float outputs are elements of their float inputs (moved, selected or sign-flipped):
// once the inputs are in the format, so are the outputs, and no rounding is needed after them.
const COPY_OPS: ReadonlySet<string> = new Set([
  'Reshape',
  'Flatten',
  'Squeeze',
  'Unsqueeze',
  'Transpose',
  'Identity',
  'Dropout',
  'Slice',
  'Split',
  'Gather',
  'Concat',
  'Expand',
  'Tile',
  'DepthToSpace',
  'SpaceToDepth',
  'MaxPool',
  'GlobalMaxPool',
  'ReduceMax',
  'ReduceMin',
  'Relu',
  'Max',
  'Min',
  'Abs',
  'Neg',
]);

// tpu-mlir's top-level canonicalization fuses these into the producing conv/matmul (Scale into
// Conv after BatchNorm -> Scale; MatMul + Add(weight) -> MatMul with bias): no store in between.
const FUSES_INTO_PRODUCER: ReadonlySet<string> = new Set(['BatchNormalization', 'Add']);
const FUSING_PRODUCERS: ReadonlySet<string> = new Set(['Conv', 'ConvTranspose', 'MatMul', 'Gemm']);

// Local memory bank bytes (tpu-mlir Backend: LMEM_BYTES / LMEM_BANKS). Softmax keeps F32 when its
// axis is longer than half a bank (Softmax.cpp axis_dim_too_large).
const LMEM_BANK_BYTES: Readonly<Record<Chip, number>> = {
  bm1684: 16384,
  bm1684x: 16384,
  bm1688: 8192,
  cv186x: 8192,
};

function softmaxAxisLength(info: GraphNodeInfo, opset: number): number {
  const shape = info.inputs[0]?.shape ?? [];
  const given = info.attributes['axis'];
  const axis = typeof given === 'number' ? given : opset >= 13 ? -1 : 1;
  const len = shape[axis < 0 ? shape.length + axis : axis];
  return len ?? 0;
}

/**
 * Where tpu-mlir's F16/BF16 lowering for `chip` keeps this op in F32 (lib/Conversion/TopToTpu/
 * BM1684X/*.cpp, shared by the BM1688 family), or undefined when it stores the reduced format.
 */
export function keptInFloat32(
  info: GraphNodeInfo,
  precision: 'fp16' | 'bf16',
  chip: Chip,
  opset: number,
): string | undefined {
  const bm1688Family = chip === 'bm1688' || chip === 'cv186x';
  switch (info.opType) {
    case 'Constant':
    case 'ConstantOfShape':
      return 'a weight: cast to the format by the layer that reads it';
    case 'AveragePool':
    case 'GlobalAveragePool':
      return precision === 'fp16' ? 'AvgPool F16 lowering is F32' : undefined;
    case 'InstanceNormalization':
      return precision === 'fp16' ? 'InstanceNorm F16 lowering is F32' : undefined;
    case 'GroupNormalization':
      return precision === 'bf16' ? 'GroupNorm BF16 lowering is F32' : undefined;
    case 'LayerNormalization':
      return precision === 'bf16' && bm1688Family
        ? 'LayerNorm BF16 lowering on BM1688 is F32'
        : undefined;
    case 'Gelu':
      return chip === 'bm1684x' ? 'GELU F16/BF16 lowering on BM1684X is F32' : undefined;
    case 'ArgMax':
    case 'ArgMin':
      return 'Arg F16/BF16 lowering is F32';
    case 'Softmax':
    case 'LogSoftmax': {
      const limit = LMEM_BANK_BYTES[chip] / 2;
      return softmaxAxisLength(info, opset) > limit
        ? `Softmax axis longer than ${limit} is F32`
        : undefined;
    }
    default:
      return undefined;
  }
}

function defaultOpset(model: OnnxModel): number {
  const d = (model.opsetImport ?? []).find((o) => (o.domain ?? '') === '');
  return Number(d?.version ?? 13);
}

/**
 * The model with FP16/BF16 activation stores emulated (identity for fp32). `nodes` is
 * describeGraph(model) (same node order); it supplies each value's element type and shapes.
 * Graph inputs and outputs keep their names and FP32 type.
 */
export function emulateHalfActivations(
  model: OnnxModel,
  nodes: readonly GraphNodeInfo[],
  precision: CompilePrecision,
  chip: Chip,
): { model: OnnxModel; plan: HalfActivationPlan } {
  const plan: HalfActivationPlan = {
    roundedOutputs: [],
    roundedInputs: [],
    roundedConstants: [],
    float32Layers: [],
  };
  if (precision === 'fp32') return { model, plan };
  const to = precision === 'fp16' ? ONNX_DTYPE.FLOAT16 : ONNX_DTYPE.BFLOAT16;
  const opset = defaultOpset(model);
  const graphNodes = model.graph.node ?? [];
  const graphOutputs = new Set((model.graph.output ?? []).map((o) => o.name ?? ''));

  const isFloat = new Set<string>();
  const rounded = new Set<string>();
  for (const i of model.graph.input ?? []) isFloat.add(i.name ?? '');
  for (const t of model.graph.initializer ?? []) {
    if (t.dataType !== ONNX_DTYPE.FLOAT) continue;
    isFloat.add(t.name ?? '');
    // Stored in the format by emulatePrecision (graph-input initializers are rounded in place).
    rounded.add(t.name ?? '');
  }
  for (const n of nodes)
    for (const o of n.outputs) if (o.elementType === 'float32') isFloat.add(o.name);

  const consumers = new Map<string, OnnxNode[]>();
  for (const n of graphNodes) {
    for (const x of n.input ?? []) {
      const list = consumers.get(x);
      if (list) list.push(n);
      else consumers.set(x, [n]);
    }
  }
  const WEIGHT_OPS = new Set(['Constant', 'ConstantOfShape']);
  const constants = new Set(
    graphNodes.filter((n) => WEIGHT_OPS.has(n.opType ?? '')).flatMap((n) => n.output ?? []),
  );
  const initializers = new Set((model.graph.initializer ?? []).map((t) => t.name ?? ''));

  const taken = new Set<string>([
    ...initializers,
    ...(model.graph.input ?? []).map((i) => i.name ?? ''),
    ...graphNodes.flatMap((n) => n.output ?? []),
  ]);
  const fresh = (base: string): string => {
    let name = base;
    while (taken.has(name)) name += '_';
    taken.add(name);
    return name;
  };
  const pair = (from: string, toName: string, label: string): OnnxNode[] => {
    const half = fresh(`${toName}__${precision}`);
    return [
      makeNode('Cast', [from], [half], { to }, fresh(`${label}/to_${precision}`)),
      makeNode('Cast', [half], [toName], { to: ONNX_DTYPE.FLOAT }, fresh(`${label}/to_fp32`)),
    ];
  };

  // An output not rounded where it is produced: a conv/matmul result consumed only by the op fused
  // into it (the chip never stores it), or any result read only by a Relu or Clip (bounds as
  // inputs, so stored in the format): those commute with rounding, so rounding after them is
  // exact whether or not the chip fuses them, and saves a Cast pair.
  const fusedIntoConsumer = (node: OnnxNode, out: string): boolean => {
    if (graphOutputs.has(out)) return false;
    const readers = consumers.get(out) ?? [];
    const consumer = readers.length === 1 ? readers[0] : undefined;
    if (consumer?.opType === 'Relu') return true;
    if (consumer?.opType === 'Clip') return (consumer.attribute ?? []).length === 0;
    if (!consumer || !FUSING_PRODUCERS.has(node.opType ?? '')) return false;
    if (!FUSES_INTO_PRODUCER.has(consumer.opType ?? '')) return false;
    if (consumer.opType === 'BatchNormalization') return consumer.input?.[0] === out;
    const other = (consumer.input ?? []).find((x) => x !== out);
    return other !== undefined && initializers.has(other);
  };

  const inputCopies = new Map<string, string>();
  const roundedOutputs: string[] = [];
  const float32Layers: Float32Layer[] = [];
  const fused = new Set<string>();
  const out: OnnxNode[] = [];
  for (const [i, node] of graphNodes.entries()) {
    const info = nodes[i];
    const outputs = (node.output ?? []).filter((o) => o !== '');
    const floatOutputs = outputs.filter((o) => isFloat.has(o));
    const reason = info ? keptInFloat32(info, precision, chip, opset) : 'not described';
    if (reason !== undefined) {
      if (floatOutputs.length > 0 && !WEIGHT_OPS.has(node.opType ?? ''))
        float32Layers.push({
          node: info?.name ?? `${node.opType}_${i}`,
          opType: node.opType ?? '',
          reason,
          readsWeights: (node.input ?? []).some((x) => initializers.has(x) && isFloat.has(x)),
        });
      out.push(node);
      continue;
    }
    // The layer reads its float inputs in the format: round those not stored in it already.
    const inputs = (node.input ?? []).map((x) => {
      if (x === '' || !isFloat.has(x) || rounded.has(x) || fused.has(x)) return x;
      let copy = inputCopies.get(x);
      if (!copy) {
        copy = fresh(`${x}__${precision}_in`);
        inputCopies.set(x, copy);
        rounded.add(copy);
        out.push(...pair(x, copy, x));
      }
      return copy;
    });
    const readsFused = (node.input ?? []).some((x) => fused.has(x));
    if (COPY_OPS.has(node.opType ?? '') && !readsFused) {
      out.push({ ...node, input: inputs });
      for (const o of floatOutputs) rounded.add(o);
      continue;
    }
    const renamed = new Map<string, string>();
    for (const o of floatOutputs) {
      if (fusedIntoConsumer(node, o)) fused.add(o);
      else renamed.set(o, fresh(`${o}__fp32`));
    }
    out.push({
      ...node,
      input: inputs,
      output: (node.output ?? []).map((o) => renamed.get(o) ?? o),
    });
    for (const [o, wide] of renamed) {
      out.push(...pair(wide, o, o));
      rounded.add(o);
      roundedOutputs.push(o);
    }
  }
  return {
    model: { ...model, graph: { ...model.graph, node: out } },
    plan: {
      roundedOutputs,
      roundedInputs: [...inputCopies.keys()].filter((x) => !constants.has(x)),
      roundedConstants: [...inputCopies.keys()].filter((x) => constants.has(x)),
      float32Layers,
    },
  };
}

/**
 * What a simulator BMODEL at FP16/BF16 reproduces of the chip and what it computes differently,
 * in plain sentences for the compile report (docs/architecture.md, "FP16/BF16 on the simulator").
 */
export interface PrecisionEmulation {
  readonly precision: 'fp16' | 'bf16';
  readonly emulated: readonly string[];
  readonly notEmulated: readonly string[];
}

export function describeHalfEmulation(
  precision: 'fp16' | 'bf16',
  plan: HalfActivationPlan,
): PrecisionEmulation {
  const f = precision.toUpperCase();
  const rounding =
    precision === 'fp16' ? 'nearest even, overflow to inf, subnormals kept' : 'nearest even';
  const constants = plan.roundedConstants.length
    ? `, ${plan.roundedConstants.length} constant(s)`
    : '';
  const kept = plan.float32Layers;
  const keptOps = [...new Set(kept.map((l) => l.opType))].join(', ');
  return {
    precision,
    emulated: [
      `weights stored in ${f} (${rounding}), widened to FP32 where a layer reads them`,
      `activations rounded to ${f} at layer boundaries, where the chip stores them: ` +
        `${plan.roundedOutputs.length} layer output(s), ${plan.roundedInputs.length} FP32 ` +
        `value(s) read by ${f} layers${constants} (${rounding})`,
      ...(kept.length
        ? [`${kept.length} layer(s) tpu-mlir lowers to F32 (${keptOps}) keep FP32 outputs`]
        : []),
    ],
    notEmulated: [
      `arithmetic inside a layer: FP32 on the host CPU, rounded to ${f} once at the layer's ` +
        `output (the chip may multiply in ${f} and accumulate wider)`,
      "the chip's own approximations (exp, division and other lookup-table kernels)",
      ...(kept.some((l) => l.readsWeights)
        ? [`weights of the F32 layers are stored rounded to ${f} too (the chip keeps them in F32)`]
        : []),
    ],
  };
}
