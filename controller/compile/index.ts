// controller/compile: ONNX -> BMODEL (sim target or vendor toolchains), validation, report.
export { compileModel, COMPILE_TARGETS, EXPORT_TOLERANCE } from './compile.js';
export type { CompileOptions, CompileResult, CompileTarget } from './compile.js';
export { parseChip, parsePrecision, vendorChipName, COMPILE_PRECISIONS } from './chip.js';
export type { CompilePrecision } from './chip.js';
export { TOLERANCES, emulatePrecision, roundToFloat16, roundToBfloat16 } from './precision.js';
export {
  emulateHalfActivations,
  keptInFloat32,
  describeHalfEmulation,
} from './half-activations.js';
export type { HalfActivationPlan, Float32Layer, PrecisionEmulation } from './half-activations.js';
export { formatCompileReport } from './report.js';
export type { CompileReport } from './report.js';
export { compareModels, compareWithReferences } from './validate.js';
export type { ValidationResult, OutputSimilarity } from './validate.js';
export { randomFeeds, imageFeeds } from './test-inputs.js';
export { buildSimBmodel } from './sim-target.js';
export * from './toolchains/tpu-mlir.js';
export * from './toolchains/tpu-nntc.js';
export { findTool, runToolStep, searchDirs } from './toolchains/runner.js';
export type { ToolStep, ToolchainName, ToolEnv } from './toolchains/runner.js';
export { buildWithToolchain } from './toolchains/build.js';
export { readToolOutput } from './toolchains/check-output.js';
export {
  convertTorchScript,
  isTorchFile,
  pythonFor,
  torchScriptToOnnx,
  traceHint,
} from './torchscript/index.js';
export type { TorchConversion, TorchProvenance } from './torchscript/index.js';
