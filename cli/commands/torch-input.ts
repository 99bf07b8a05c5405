// TorchScript (.pt) for the commands that work on ONNX (quantize, umodel export): export it with
// the user's PyTorch, check the export against the TorchScript outputs, and hand on the ONNX path
// (docs/torchscript.md). An ONNX model passes through untouched.
import { isTorchFile, torchScriptToOnnx } from '../../controller/compile/index.js';
import { bmfError, isBmfError } from '../../shared/errors.js';
import { openRegularFile } from '../../shared/fs/regular.js';
import type { PreprocessSpec } from '../../shared/preprocess/index.js';
import type { CommandContext } from '../command.js';
import { parseInputShapes } from './compile.js';

/** The first bytes of the model; a FIFO or device is refused, not waited on. */
async function modelHead(path: string): Promise<Uint8Array> {
  try {
    const fd = await openRegularFile(path);
    try {
      const buf = new Uint8Array(4);
      await fd.read(buf, 0, 4, 0);
      return buf;
    } finally {
      await fd.close();
    }
  } catch (e) {
    if (isBmfError(e)) throw e;
    throw bmfError('BMF_ERR_IO', { path, reason: (e as Error).message }, { cause: e });
  }
}

export async function onnxModelInput(
  ctx: CommandContext,
  model: string,
  inputShapes: string | undefined,
  preprocess: PreprocessSpec,
  outDir: string,
): Promise<string> {
  if (!isTorchFile(model, await modelHead(model))) return model;
  const { onnxPath, conversion, exportCheck } = await torchScriptToOnnx({
    modelPath: model,
    inputShapes: inputShapes ? parseInputShapes(inputShapes) : undefined,
    preprocess,
    outDir,
    env: ctx.env,
  });
  const p = conversion.provenance;
  const worst = Math.min(...exportCheck.outputs.map((x) => x.cosine));
  ctx.stderr.write(
    `TorchScript ${model} (sha256 ${p.sha256.slice(0, 16)}...) -> ${onnxPath}: PyTorch ${p.torchVersion}, opset ${p.opset}, export cosine >= ${worst.toFixed(6)} on ${exportCheck.samples} inputs\n`,
  );
  return onnxPath;
}
