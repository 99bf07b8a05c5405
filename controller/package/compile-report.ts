// What `bmfleet package` takes from the compile or quantize report beside the BMODEL into the
// signed metadata: the modeled latency and the TorchScript provenance. The report is a file
// from outside: decoded and checked here, so nothing unchecked is signed (a malformed report
// used to be skipped silently, and a well-formed one with wrong types cast into the metadata).
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { bmfError } from '../../shared/errors.js';
import { DIGEST_PATTERN } from '../../shared/ids.js';

const Text = Type.String({ minLength: 1, maxLength: 4096 });

const ReportMetadataSchema = Type.Object({
  modeledLatency: Type.Optional(
    Type.Union([
      Type.Object({
        modeled: Type.Literal(true),
        perImageMs: Type.Number({ exclusiveMinimum: 0, maximum: 1e9 }),
        batch: Type.Optional(Type.Integer({ minimum: 1 })),
        // The cost model's own account of how far to trust the figure (cost/confidence.ts).
        confidence: Type.Optional(
          Type.Object({ level: Type.Union([Type.Literal('medium'), Type.Literal('low')]) }),
        ),
      }),
      Type.Object({ modeled: Type.Literal(true), unavailable: Text }),
    ]),
  ),
  source: Type.Optional(
    Type.Object({
      format: Type.Literal('torchscript'),
      sha256: Type.String({ pattern: DIGEST_PATTERN }),
      torchVersion: Text,
      opset: Type.Integer({ minimum: 1, maximum: 100 }),
    }),
  ),
});

export type ReportMetadata = Static<typeof ReportMetadataSchema>;

/** The report's text at `path` -> its checked metadata; BMF_ERR_COMPILE_REPORT_INVALID otherwise. */
export function parseReportMetadata(text: string, path: string): ReportMetadata {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw bmfError('BMF_ERR_COMPILE_REPORT_INVALID', {
      path,
      reason: `not JSON: ${(e as Error).message}`,
    });
  }
  if (!Value.Check(ReportMetadataSchema, value)) {
    const first = [...Value.Errors(ReportMetadataSchema, value)][0];
    throw bmfError('BMF_ERR_COMPILE_REPORT_INVALID', {
      path,
      reason: first ? `${first.path || '/'}: ${first.message}` : 'not a report object',
    });
  }
  return value;
}
