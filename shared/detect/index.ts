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
export {
  computeMap,
  toCocoBox,
  IOU_THRESHOLDS,
  RECALL_THRESHOLDS,
  type GroundTruthBox,
  type DetectedBox,
  type MapResult,
  type ClassAp,
  type CocoBox,
  type ImageId,
} from './map.js';
export { matchDetections, boxIou, type MatchBox, type MatchCounts } from './match.js';
export { parseYoloLabels, parseCocoBoxes, type LabelledBox, type LabelledImage } from './labels.js';
export { detectionMap, type DetectionSample, type DetectionEvalContext } from './evaluate.js';
export {
  AGREEMENT_IOU,
  compareAnswers,
  emptyBoxAgreement,
  addBoxAgreement,
  mergeBoxAgreement,
  boxAgreementF1,
  emptyDetectionOutput,
  addDetectionOutput,
  mergeDetectionOutput,
  scoreBin,
  type BoxAgreement,
} from './agreement.js';
