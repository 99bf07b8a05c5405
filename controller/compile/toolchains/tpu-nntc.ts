// tpu-nntc command lines (docs/vendor.md section 1). nntc's front ends take `--flag=value`
// (Python argparse for bmneto and ufw, gflags for bmnetu and calibration_use_pb accept it too).
import { toNntcPreprocessString } from '../../../shared/preprocess/index.js';
import type { PreprocessSpec } from '../../../shared/preprocess/index.js';

/** One input: `[1,3,224,224]` (as the vendor examples write it); several: `[[..],[..]]`. */
export function nntcShapesArg(shapes: readonly (readonly number[])[]): string {
  const one = (s: readonly number[]): string => `[${s.join(',')}]`;
  return shapes.length === 1 ? one(shapes[0] ?? []) : `[${shapes.map(one).join(',')}]`;
}

export interface BmnetoArgs {
  readonly model: string;
  readonly shapes: readonly (readonly number[])[];
  /** Vendor spelling: BM1684, BM1684X. */
  readonly target: string;
  readonly outdir: string;
  readonly netName: string;
  readonly opt?: 0 | 1 | 2;
}

/** FP32 BMODEL from ONNX; writes <outdir>/compilation.bmodel. */
export function bmnetoArgv(a: BmnetoArgs): string[] {
  return nntcFrontendArgv('bmneto', a);
}

/**
 * FP32 BMODEL from a TorchScript trace; writes <outdir>/compilation.bmodel. The flags are those of
 * sophon-demo's sample/ResNet/scripts/gen_fp32bmodel_nntc.sh (docs/torchscript.md), the same
 * subset bmneto takes.
 */
export function bmnetpArgv(a: BmnetoArgs): string[] {
  return nntcFrontendArgv('bmnetp', a);
}

/** bmneto and bmnetp share their flags; only the front-end module differs. */
function nntcFrontendArgv(module: 'bmneto' | 'bmnetp', a: BmnetoArgs): string[] {
  return [
    'python3',
    '-m',
    module,
    `--model=${a.model}`,
    `--shapes=${nntcShapesArg(a.shapes)}`,
    `--target=${a.target}`,
    `--outdir=${a.outdir}`,
    `--net_name=${a.netName}`,
    `--opt=${a.opt ?? 1}`,
  ];
}

export interface CaliModelArgs {
  readonly netName: string;
  readonly model: string;
  readonly caliImagePath: string;
  readonly preprocess: PreprocessSpec;
  readonly inputShapes: readonly (readonly number[])[];
  readonly target: string;
  readonly caliIterations?: number;
  readonly testIterations?: number;
  readonly fp32LayerList?: readonly string[];
  readonly score?: 'detect_accuracy' | 'topx_accuracy_for_classify' | 'feature_similarity' | 'None';
}

/** One-step automatic INT8 quantization (slow: searches parameters). */
export function caliModelArgv(a: CaliModelArgs): string[] {
  return [
    'python3',
    '-m',
    'ufw.cali.cali_model',
    `--net_name=${a.netName}`,
    `--model=${a.model}`,
    `--cali_image_path=${a.caliImagePath}`,
    `--cali_image_preprocess=${toNntcPreprocessString(a.preprocess)}`,
    `--input_shapes=${nntcShapesArg(a.inputShapes)}`,
    `--target=${a.target}`,
    ...(a.caliIterations ? [`--cali_iterations=${a.caliIterations}`] : []),
    ...(a.testIterations ? [`--test_iterations=${a.testIterations}`] : []),
    ...(a.fp32LayerList?.length ? [`--fp32_layer_list=${a.fp32LayerList.join(',')}`] : []),
    `--postprocess_and_calc_score_class=${a.score ?? 'None'}`,
  ];
}

export interface OnToUmodelArgs {
  readonly model: string;
  /** One input shape, NCHW. */
  readonly shape: readonly number[];
  /** Folder the FP32 UMODEL and its prototxt are written to. */
  readonly outdir: string;
  /** LMDB folder the prototxt's data layer reads (calibration data). */
  readonly lmdb: string;
}

/**
 * ONNX -> FP32 UMODEL (`<outdir>/<model stem>_bmneto_test_fp32.prototxt` and
 * `<model stem>_bmneto.fp32umodel`). Flags as the Quantization-Tools guide documents the
 * `ufw.tools.*_to_umodel` front ends (-m model, -s input shape, -d output folder, -D LMDB for
 * the data layer, --cmp to check the conversion against the source framework).
 */
export function onToUmodelArgv(a: OnToUmodelArgs): string[] {
  return [
    'python3',
    '-m',
    'ufw.tools.on_to_umodel',
    '-m',
    a.model,
    '-s',
    `(${a.shape.join(',')})`,
    '-d',
    a.outdir,
    '-D',
    a.lmdb,
    '--cmp',
  ];
}

export interface CalibrationUsePbArgs {
  readonly model: string;
  readonly weights: string;
  readonly iterations?: number;
  readonly fpfwdOutputs?: readonly string[];
}

/** Step-by-step INT8: FP32 UMODEL -> INT8 UMODEL (gflags `-flag=value`). */
export function calibrationUsePbArgv(a: CalibrationUsePbArgs): string[] {
  return [
    'calibration_use_pb',
    'quantize',
    `-model=${a.model}`,
    `-weights=${a.weights}`,
    `-iterations=${a.iterations ?? 200}`,
    '-bitwidth=TO_INT8',
    ...(a.fpfwdOutputs?.length ? [`-fpfwd_outputs=${a.fpfwdOutputs.join(',')}`] : []),
  ];
}

export interface BmnetuArgs {
  readonly model: string;
  readonly weight: string;
  readonly target: string;
  readonly shapes: readonly (readonly number[])[];
  readonly outdir: string;
  readonly netName?: string;
  readonly opt?: 0 | 1 | 2;
}

/**
 * INT8 UMODEL -> BMODEL (<outdir>/compilation.bmodel), as sophon-demo's gen_int8bmodel_nntc.sh
 * scripts call it: `-prec=INT8`, and `-cmp=1` so bmnetu checks each layer's TPU result against
 * its CPU result while compiling.
 */
export function bmnetuArgv(a: BmnetuArgs): string[] {
  return [
    'bmnetu',
    `-model=${a.model}`,
    `-weight=${a.weight}`,
    `-shapes=${nntcShapesArg(a.shapes)}`,
    ...(a.netName ? [`-net_name=${a.netName}`] : []),
    `-target=${a.target}`,
    `-opt=${a.opt ?? 1}`,
    '-prec=INT8',
    '-dyn=0',
    '-cmp=1',
    `-outdir=${a.outdir}`,
  ];
}
