// Request validation with TypeBox itself (not ajv's type coercion): a body must already have the
// declared JSON types ({"tags": {"site": 3}} is a 400, not silently "3"), while the strings of
// querystrings and path params are converted to the declared number/boolean types first.
// Defaults declared in the schemas are filled in, so handlers see complete typed values.
import { Kind, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import type { FastifySchemaCompiler } from 'fastify';

/** Shaped like ajv's errors, which the error handler (errors.ts) already understands. */
interface Issue {
  readonly instancePath: string;
  readonly message: string;
  readonly params: Record<string, never>;
}

function isTypeBox(schema: unknown): schema is TSchema {
  return typeof schema === 'object' && schema !== null && Kind in schema;
}

export const typeboxValidatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  if (!isTypeBox(schema)) throw new Error(`route schema for ${httpPart} is not a TypeBox schema`);
  const checker = TypeCompiler.Compile(schema);
  const fromText = httpPart !== 'body';
  return (data: unknown) => {
    let value = fromText ? Value.Convert(schema, data) : data;
    value = Value.Default(schema, value);
    if (checker.Check(value)) return { value };
    const first = checker.Errors(value).First();
    const issue: Issue = {
      instancePath: first?.path ?? '',
      message: first?.message ?? 'invalid',
      params: {},
    };
    const error = Object.assign(new Error(issue.message), { validation: [issue] });
    return { error };
  };
};
