// Public surface of shared/preprocess.
export {
  parsePreprocessSpec,
  PreprocessSpecSchema,
  channelCount,
  interpolations,
  cvInterpolations,
  sharpInterpolations,
  colorProfiles,
  type Interpolation,
  type CvInterpolation,
  type ColorProfile,
  type PreprocessSpec,
  type AuthoredPreprocessSpec,
  parseAuthoredPreprocessSpec,
  type PreprocessSpecInput,
  type PreprocessOutput,
} from './spec.js';
export { DEFAULT_MAX_INPUT_PIXELS, nativeJpegAvailable, type RawImage } from './decode.js';
export {
  preprocessImage,
  preprocessBatch,
  tensorShape,
  type PreprocessOptions,
  type PreprocessBatchOptions,
} from './preprocess.js';
export { toModelTransformArgs, toNntcPreprocessString } from './export.js';
export {
  cvResize,
  nativeResizeAvailable,
  type PixelImage,
  type ResizeOptions,
} from './opencv-resize.js';
export { quantize, roundHalfAwayFromZero } from './value-table.js';
export {
  planPlacement,
  inversePlacement,
  sourceMapping,
  tensorMapping,
  toSourceX,
  toSourceY,
  type GeometrySpec,
  type Placement,
  type SourceMapping,
} from './geometry.js';
