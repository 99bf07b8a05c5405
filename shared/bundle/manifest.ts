// The bundle manifest: what a signed bundle promises about its model. Validated at the edge
// (parseBundleManifest) before any logic sees it; the signature covers canonicalBytes(manifest).
// Field vocabulary follows issue 2 ("Signed bundles and trust"); chips and precisions follow the
// vendor toolchain (docs/vendor.md sections 1-3).
import { Type, type Static } from '@sinclair/typebox';
import { bmfError, isBmfError } from '../errors.js';
import { parseDecoderSpec, type DecoderSpec } from '../detect/spec.js';
import { parsePreprocessSpec, type PreprocessSpec } from '../preprocess/spec.js';
import { deepFreeze } from '../config/load.js';
import { DIGEST_PATTERN, DigestSchema } from '../ids.js';
import { assertSchema, ISO_TIME_PATTERN, isoToMs } from '../trust/validate.js';
import { canonicalJson } from './canonical.js';

export const BUNDLE_SCHEMA_VERSION = 1;
export const CHIPS = ['bm1684', 'bm1684x', 'bm1688', 'cv186x'] as const;
export const PRECISIONS = ['fp32', 'fp16', 'bf16', 'int8', 'mixed'] as const;
export const RUNTIME_KINDS = ['sim', 'bmrt'] as const;
export const FILE_ROLES = ['bmodel', 'golden', 'labels', 'extra'] as const;

export type Chip = (typeof CHIPS)[number];
export type Precision = (typeof PRECISIONS)[number];

// semver.org 2.0.0 grammar.
const SEMVER_PATTERN =
  '^(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)' +
  '(?:-((?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\\.(?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?' +
  '(?:\\+([0-9a-zA-Z-]+(?:\\.[0-9a-zA-Z-]+)*))?$';
// Relative, slash-separated, no empty/"."/".." segments (checked below): a manifest must never
// name a path outside the bundle directory.
const SAFE_PATH_PATTERN = '^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$';
const NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$';

const Sha256 = Type.String({ pattern: DIGEST_PATTERN });
const IsoTime = Type.String({ pattern: ISO_TIME_PATTERN, maxLength: 40 });
const Strict = { additionalProperties: false } as const;
const union = <T extends readonly string[]>(xs: T) => Type.Union(xs.map((x) => Type.Literal(x)));

export const BundleFileSchema = Type.Object(
  {
    role: union(FILE_ROLES),
    path: Type.String({ pattern: SAFE_PATH_PATTERN, maxLength: 255 }),
    // A blob name on the device: the schema check brands it as a Digest (shared/ids.ts).
    sha256: DigestSchema,
    size: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
  },
  Strict,
);

// Carried exactly as signed (defaults are not filled in, so the signed bytes stay the author's);
// parseBundleInputs validates it with shared/preprocess's parsePreprocessSpec, once, and returns
// the complete typed specs that consumers pass on (verifyBundle hands them out).
const PreprocessJson = Type.Object({}, { additionalProperties: true });
// The output decoder, carried the same way (shared/detect parseDecoderSpec checks it). Absent
// means classify (top-k), so bundles made before decoders existed read unchanged.
const DecoderJson = Type.Object(
  { kind: Type.String({ maxLength: 32 }) },
  { additionalProperties: true },
);

export const BundleManifestSchema = Type.Object(
  {
    type: Type.Literal('bundle'),
    schemaVersion: Type.Literal(BUNDLE_SCHEMA_VERSION),
    name: Type.String({ pattern: NAME_PATTERN }),
    version: Type.String({ pattern: SEMVER_PATTERN, maxLength: 128 }),
    /** Strictly increasing per model; devices refuse a sequence not above the installed one. */
    sequence: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    chips: Type.Array(union(CHIPS), { minItems: 1, uniqueItems: true }),
    precision: union(PRECISIONS),
    runtime: union(RUNTIME_KINDS),
    files: Type.Array(BundleFileSchema, { minItems: 1, maxItems: 256 }),
    inputs: Type.Array(
      Type.Object(
        { name: Type.String({ minLength: 1, maxLength: 256 }), preprocess: PreprocessJson },
        Strict,
      ),
      { maxItems: 64 },
    ),
    outputs: Type.Object(
      {
        labels: Type.Optional(
          Type.Union([
            Type.Object({ file: Type.String({ pattern: SAFE_PATH_PATTERN }) }, Strict),
            Type.Object(
              { inline: Type.Array(Type.String({ maxLength: 256 }), { maxItems: 100000 }) },
              Strict,
            ),
          ]),
        ),
        topK: Type.Integer({ minimum: 1, maximum: 1000 }),
        decoder: Type.Optional(DecoderJson),
      },
      Strict,
    ),
    golden: Type.Optional(
      Type.Object(
        {
          expectedAccuracy: Type.Number({ minimum: 0, maximum: 1 }),
          expectedCosine: Type.Number({ minimum: -1, maximum: 1 }),
          /** Detectors: the activation gate's minimum COCO mAP@[0.5:0.95] on the golden boxes. */
          expectedMap: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
          count: Type.Integer({ minimum: 0 }),
        },
        Strict,
      ),
    ),
    provenance: Type.Object(
      {
        sourceModelSha256: Sha256,
        toolchain: Type.String({ minLength: 1, maxLength: 64 }),
        toolchainVersion: Type.String({ minLength: 1, maxLength: 64 }),
        calibrationMethod: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
        datasetDigest: Type.Optional(Sha256),
      },
      Strict,
    ),
    /** Free-form facts (e.g. modeled latency from the cost model); covered by the signature. */
    metadata: Type.Record(Type.String(), Type.Unknown()),
    created: IsoTime,
    expires: IsoTime,
  },
  Strict,
);

export type BundleManifest = Static<typeof BundleManifestSchema>;
export type BundleFile = Static<typeof BundleFileSchema>;
export type FileRole = BundleFile['role'];

function invalid(field: string, reason: string): never {
  throw bmfError('BMF_ERR_BUNDLE_MANIFEST', { field, reason });
}

/** Rules a JSON schema cannot say: cross-field references, uniqueness, time order. */
/** A manifest and its inputs' preprocessing as typed specs, parsed once at the edge. */
export interface ParsedBundle {
  readonly manifest: BundleManifest;
  readonly inputs: readonly BundleInput[];
}

/** A manifest input with its preprocessing parsed into the complete, frozen spec. */
export interface BundleInput {
  readonly name: string;
  readonly preprocess: PreprocessSpec;
}

function parseInputs(m: BundleManifest): BundleInput[] {
  const names = new Set<string>();
  return m.inputs.map((input, i) => {
    if (names.has(input.name)) invalid(`inputs[${i}].name`, `duplicate input ${input.name}`);
    names.add(input.name);
    try {
      return { name: input.name, preprocess: parsePreprocessSpec(input.preprocess) };
    } catch (e) {
      if (!isBmfError(e, 'BMF_ERR_PREPROCESS_SPEC')) throw e;
      return invalid(
        `inputs[${i}].preprocess.${String(e.details.field)}`,
        String(e.details.reason),
      );
    }
  });
}

function checkSemantics(m: BundleManifest): BundleInput[] {
  const paths = new Set<string>();
  m.files.forEach((f, i) => {
    if (f.path.split('/').some((seg) => seg === '.' || seg === '..')) {
      invalid(`files[${i}].path`, 'must not contain "." or ".." segments');
    }
    if (paths.has(f.path)) invalid(`files[${i}].path`, `duplicate path ${f.path}`);
    paths.add(f.path);
  });
  const bmodels = m.files.filter((f) => f.role === 'bmodel').length;
  if (bmodels !== 1) invalid('files', `needs exactly one bmodel file, found ${bmodels}`);
  const inputs = parseInputs(m);
  try {
    parseDecoderSpec(m.outputs.decoder);
  } catch (e) {
    if (!isBmfError(e, 'BMF_ERR_DECODER_SPEC')) throw e;
    invalid(`outputs.decoder.${String(e.details.field)}`, String(e.details.reason));
  }
  const labels = m.outputs.labels;
  if (labels && 'file' in labels) {
    const ref = m.files.find((f) => f.path === labels.file);
    if (!ref || ref.role !== 'labels') {
      invalid('outputs.labels.file', `no file with role labels at ${labels.file}`);
    }
  }
  if (Number.isNaN(isoToMs(m.created))) invalid('created', 'not a valid time');
  if (Number.isNaN(isoToMs(m.expires))) invalid('expires', 'not a valid time');
  if (isoToMs(m.expires) <= isoToMs(m.created)) invalid('expires', 'must be after created');
  // Opaque parts must still be canonically encodable, or the signature could not cover them.
  try {
    canonicalJson(m.metadata);
  } catch (e) {
    invalid('metadata', (e as Error).message);
  }
  return inputs;
}

/** Validate untrusted JSON (text, bytes or a parsed value) into a frozen BundleManifest. */
export function parseBundleManifest(json: unknown): BundleManifest {
  return parseBundle(json).manifest;
}

/** As parseBundleManifest, with each input's preprocessing as the typed spec it was checked as. */
export function parseBundle(json: unknown): ParsedBundle {
  let value = json;
  if (typeof json === 'string' || json instanceof Uint8Array) {
    const text = typeof json === 'string' ? json : new TextDecoder().decode(json);
    try {
      value = JSON.parse(text) as unknown;
    } catch (e) {
      invalid('(document)', `not JSON: ${(e as Error).message}`);
    }
  }
  assertSchema(BundleManifestSchema, value, (f) => invalid(f.field, f.reason));
  const inputs = checkSemantics(value);
  return { manifest: deepFreeze(structuredClone(value)), inputs: Object.freeze(inputs) };
}

/** The one file with role bmodel (parseBundleManifest guarantees it exists). */
export function bmodelFile(m: BundleManifest): BundleFile {
  const f = m.files.find((x) => x.role === 'bmodel');
  if (!f) invalid('files', 'no bmodel file');
  return f;
}

/** The bundle's output decoder, complete (parseBundleManifest has already validated it). */
export function manifestDecoder(m: BundleManifest): DecoderSpec {
  return parseDecoderSpec(m.outputs.decoder);
}
