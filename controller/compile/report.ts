// The compile report: what was compiled, with which toolchain, how it validated and what the cost
// model predicts. Written as compile-report.json; formatCompileReport renders the table the CLI
// prints.
import type { CostConfidence } from './cost/index.js';
import type { PrecisionEmulation } from './half-activations.js';
import type { TorchProvenance } from './torchscript/index.js';
import type { ValidationResult } from './validate.js';

export interface CompileReportIo {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: string;
}

export interface CompileReport {
  /** `sha256` is of the file the user gave (the .pt for TorchScript input). */
  readonly model: { readonly path: string; readonly sha256: string; readonly netName: string };
  /** TorchScript input: the .pt, the PyTorch that exported it and the ONNX opset used. */
  readonly source?: TorchProvenance;
  readonly chip: string;
  readonly precision: string;
  readonly target: 'sim' | 'tpu-mlir' | 'tpu-nntc';
  readonly toolchain: { readonly name: string; readonly version: string };
  readonly inputs: readonly CompileReportIo[];
  readonly outputs: readonly CompileReportIo[];
  readonly bmodel: { readonly path: string; readonly sha256: string; readonly bytes: number };
  /** null when validation ran inside the vendor toolchain (see `validationNote`). */
  readonly validation: ValidationResult | null;
  readonly validationNote?: string;
  /**
   * TorchScript input: the exported ONNX (`export`, model_transform's 0.99,0.99) and the simulator
   * BMODEL (`bmodel`, the precision's tolerance) against the TorchScript model's own outputs.
   */
  readonly torchscriptValidation?: {
    readonly export: ValidationResult;
    readonly bmodel?: ValidationResult;
  };
  /** FP16/BF16 on the sim target: what the simulator reproduces of the chip and what not. */
  readonly emulation?: PrecisionEmulation;
  /** From controller/compile/cost: a prediction, never a measurement. */
  readonly modeledLatency:
    | {
        readonly modeled: true;
        readonly perImageMs: number;
        readonly batch: number;
        /** Which layer kinds dominate and whether the published rows cover that mix. */
        readonly confidence?: CostConfidence;
      }
    | { readonly modeled: true; readonly unavailable: string };
  readonly durationMs: number;
}

const fmt = (v: number | 'inf', digits: number): string =>
  v === 'inf' ? 'inf' : Number.isFinite(v) ? v.toFixed(digits) : String(v);

function validationTable(title: string, v: ValidationResult): string[] {
  return [
    `${title} on ${v.samples} input(s), tolerance cosine >= ${v.tolerance.cosine}, euclidean >= ${v.tolerance.euclidean}`,
    `${'OUTPUT'.padEnd(24)} ${'COSINE'.padStart(10)} ${'EUCLIDEAN'.padStart(10)} ${'SQNR DB'.padStart(9)}  RESULT`,
    ...v.outputs.map(
      (o) =>
        `${o.name.padEnd(24)} ${fmt(o.cosine, 7).padStart(10)} ${fmt(o.euclidean, 7).padStart(10)} ${fmt(o.sqnrDb, 2).padStart(9)}  ${o.pass ? 'PASS' : 'FAIL'}`,
    ),
  ];
}

export function formatCompileReport(r: CompileReport): string {
  const lines = [
    `model      ${r.model.path} (sha256 ${r.model.sha256.slice(0, 16)}...)`,
    `net        ${r.model.netName}`,
    `target     ${r.target} via ${r.toolchain.name} ${r.toolchain.version}`,
    `chip       ${r.chip}   precision ${r.precision}`,
    `bmodel     ${r.bmodel.path} (${r.bmodel.bytes} bytes)`,
    ...r.inputs.map((io) => `input      ${io.name} [${io.shape.join(',')}] ${io.dtype}`),
    ...r.outputs.map((io) => `output     ${io.name} [${io.shape.join(',')}] ${io.dtype}`),
  ];
  if (r.source) {
    lines.push(
      `source     TorchScript ${r.source.path} (sha256 ${r.source.sha256.slice(0, 16)}...)`,
      `export     PyTorch ${r.source.torchVersion}, ONNX opset ${r.source.opset} -> ${r.source.onnxPath}`,
    );
  }
  if (r.emulation) {
    lines.push(
      `emulation  ${r.emulation.precision} on the simulator (the host CPU runs the payload, not the chip):`,
      ...r.emulation.emulated.map((s) => `  emulated      ${s}`),
      ...r.emulation.notEmulated.map((s) => `  not emulated  ${s}`),
    );
  }
  if (r.validation) {
    lines.push('', ...validationTable('validation', r.validation));
  } else if (r.validationNote) {
    lines.push('', `validation ${r.validationNote}`);
  }
  const tv = r.torchscriptValidation;
  if (tv) {
    lines.push('', ...validationTable('ONNX export vs TorchScript', tv.export));
    if (tv.bmodel) lines.push('', ...validationTable('BMODEL vs TorchScript', tv.bmodel));
  }
  const lat = r.modeledLatency;
  lines.push(
    '',
    'perImageMs' in lat
      ? `latency    ${lat.perImageMs.toFixed(3)} ms per image (MODELED by the cost model, not measured)`
      : `latency    modeled latency unavailable: ${lat.unavailable}`,
    ...('confidence' in lat && lat.confidence
      ? [
          `confidence ${lat.confidence.level}: ${lat.confidence.reason}`,
          `layers     ${lat.confidence.byKind
            .map((k) => `${k.kind} ${k.layers} (${(k.share * 100).toFixed(0)} % of time)`)
            .join(', ')}`,
        ]
      : []),
    `duration   ${(r.durationMs / 1000).toFixed(2)} s`,
  );
  return `${lines.join('\n')}\n`;
}
