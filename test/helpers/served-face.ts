// What an agent serving the vendor RetinaFace BMODEL on the libsophon emulator must answer,
// recomputed on the host: the outputs it serves against the ones the BMODEL declares
// (vendor-files.json), and the anchor candidates the emulator's outputs for an image decode to
// (docs/libsophon.md "Emulator outputs", then the anchor transform). For the tests that roll the
// BMODEL out to an agent on the host and on the emulated board.
import { parseDecoderSpec } from '../../shared/detect/index.js';
import type { RetinafaceAnchorsDecoder } from '../../shared/detect/spec.js';
import { parsePreprocessSpec, preprocessImage } from '../../shared/preprocess/index.js';
import { tensorBytes } from '../../shared/tensor.js';
import { FACE_DECODER, FACE_PREPROCESS, FACE_SIZE } from '../../harness/vendor-bundle.js';
import { expectedOutputs } from '../native/emulator-outputs.js';
import { fixtureJson } from '../shared/bmodel/fixtures.js';
import { anchorCandidates, type AnchorCandidate } from './retinaface-anchors.js';

export interface ServedOutput {
  readonly name: string;
  readonly dtype: string;
  readonly shape: number[];
}

/** The outputs of the first model the agent's local API lists (GET /v1/models). */
export async function servedOutputs(apiPort: number): Promise<ServedOutput[]> {
  const r = await fetch(`http://127.0.0.1:${apiPort}/v1/models`);
  const { models } = (await r.json()) as { models: { outputs: ServedOutput[] }[] };
  return models[0]!.outputs;
}

/** [name, dtype, shape] of each output: the agent serves every output of `file` as float32. */
export function declaredOutputs(file: string): [string, string, number[]][] {
  const { files } = fixtureJson<{
    files: { file: string; nets: { outputs: { name: string; shape: number[] }[] }[] }[];
  }>('vendor-files.json');
  return files
    .find((f) => f.file === file)!
    .nets[0]!.outputs.map((o) => [o.name, 'float32', o.shape]);
}

/** The decoder and the anchors above its threshold for `image` (a FACE_SIZE square PNG). */
export async function expectedFaceCandidates(
  image: Uint8Array,
  served: readonly ServedOutput[],
): Promise<{ decoder: RetinafaceAnchorsDecoder; candidates: AnchorCandidate[] }> {
  const input = await preprocessImage(image, parsePreprocessSpec(FACE_PREPROCESS));
  const raw = expectedOutputs(
    [{ bytes: tensorBytes(input), shape: input.shape }],
    served.map((o) => ({ dataType: 0, shape: o.shape })),
  );
  const outputs = Object.fromEntries(
    served.map((o, k) => [
      o.name,
      { dtype: 'float32', shape: o.shape, data: new Float32Array(raw[k]!.slice().buffer) },
    ]),
  );
  const identity = Object.fromEntries(served.map((o) => [o.name, { scale: 1, zeroPoint: 0 }]));
  const decoder = parseDecoderSpec(FACE_DECODER) as RetinafaceAnchorsDecoder;
  const candidates = anchorCandidates(decoder, outputs, identity, {
    width: FACE_SIZE,
    height: FACE_SIZE,
  });
  return { decoder, candidates };
}
