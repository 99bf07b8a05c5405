// Public surface of shared/detect.
export {
  parseDecoderSpec,
  isDetector,
  CLASSIFY,
  DecoderSpecSchema,
  YOLOV5_ANCHORS,
  type DecoderSpec,
  type DecoderKind,
  type DetectorSpec,
} from './spec.js';
export {
  decodeDetections,
  checkDecoderFits,
  decoderOutputNames,
  type DecodeContext,
  type OutputShape,
} from './decode.js';
export type { Detection } from './candidates.js';
export type { OutputQuantization } from './outputs.js';
export { retinafacePriors } from './retinaface.js';
