// Route schemas of the local API are TypeBox schemas, checked by TypeBox: the same checker the
// config and the tensor requests use. Handing fastify these compilers keeps it from loading ajv and
// fast-json-stringify (with their dependencies, about 2 MB of heap the agent holds for its whole
// life, idle or not); no route here has a response schema, so replies are JSON.stringify'd either
// way.
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { FastifySchemaCompiler, FastifyServerOptions } from 'fastify';
import { bmfError } from '../../shared/errors.js';
import type { BmfError } from '../../shared/errors.js';

/** BMF_ERR_INFER_REQUEST naming the first problem of a body that does not match `schema`. */
export function bodyError(schema: TSchema, body: unknown): BmfError {
  const first = Value.Errors(schema, body).First();
  return bmfError('BMF_ERR_INFER_REQUEST', {
    reason: first ? `${first.path || '(body)'}: ${first.message}` : 'invalid body',
  });
}

type SchemaController = NonNullable<FastifyServerOptions['schemaController']>;
type CompilersFactory = NonNullable<SchemaController['compilersFactory']>;

/**
 * Validates like fastify's default ajv set-up (removeAdditional, useDefaults, coerceTypes):
 * properties the schema does not allow are dropped, defaults filled in, scalars converted
 * where the schema asks for another type, and then the result must match.
 */
const compileValidator: FastifySchemaCompiler<TSchema> =
  ({ schema }) =>
  (data: unknown) => {
    const value = Value.Parse(['Clean', 'Default', 'Convert'], schema, data);
    return Value.Check(schema, value) ? { value } : { error: bodyError(schema, value) };
  };

export const typeboxSchemaController: SchemaController = {
  compilersFactory: {
    // fastify types the factory after ajv's; at run time it only calls the returned compiler
    // with each route's schema and reads `{ value }` or `{ error }` from its result.
    buildValidator: (() => compileValidator) as unknown as CompilersFactory['buildValidator'],
    buildSerializer: () => () => (data: unknown) => JSON.stringify(data),
  },
};
