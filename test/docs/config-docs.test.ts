// docs/config.md lists every controller and agent config field with its default, and nothing
// else; examples/controller.json is a configuration the controller accepts.
import t from 'tap';
import { readFileSync } from 'node:fs';
import type { TSchema } from '@sinclair/typebox';
import { AgentConfigSchema } from '../../agent/config.js';
import { ControllerConfigSchema, loadControllerConfig } from '../../controller/config.js';

const root = new URL('../../', import.meta.url);
const doc = readFileSync(new URL('docs/config.md', root), 'utf8');

/** Every leaf of an object schema with its default (undefined when it has none). */
function leaves(s: TSchema, path: string[] = []): [string, unknown][] {
  const props = (s as { properties?: Record<string, TSchema> }).properties;
  if ((s as { type?: string }).type === 'object' && props) {
    return Object.entries(props).flatMap(([k, v]) => leaves(v, [...path, k]));
  }
  return [[path.join('.'), (s as { default?: unknown }).default]];
}

/** `field` -> default cell of the table under a `## heading`. */
function table(heading: string): Map<string, string> {
  const start = doc.indexOf(`## ${heading}`);
  t.ok(start >= 0, `docs/config.md has a section ${heading}`);
  const end = doc.indexOf('\n## ', start + 1);
  const rows = new Map<string, string>();
  for (const line of doc.slice(start, end < 0 ? undefined : end).split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    const field = /^`([A-Za-z.]+)`$/.exec(cells[1] ?? '')?.[1];
    if (field) rows.set(field, cells[2] ?? '');
  }
  return rows;
}

for (const [heading, schema] of [
  ['Controller', ControllerConfigSchema],
  ['Agent', AgentConfigSchema],
] as const) {
  t.test(`${heading} fields and defaults`, async (t) => {
    const rows = table(heading);
    const fields = leaves(schema);
    for (const [field, def] of fields) {
      t.ok(rows.has(field), `${field} documented`);
      const want = def === undefined ? '—' : `\`${JSON.stringify(def)}\``;
      t.equal(rows.get(field), want, `${field} default`);
    }
    const known = new Set(fields.map(([f]) => f));
    t.same(
      [...rows.keys()].filter((f) => !known.has(f)),
      [],
      'no documented field the schema does not have',
    );
  });
}

t.test('examples/controller.json is a configuration the controller accepts', async (t) => {
  const file = new URL('examples/controller.json', root).pathname;
  const config = loadControllerConfig({ file, env: {} });
  t.equal(config.keysDir, 'keys', 'the keystore keys init --dir keys writes');
  t.equal(config.api.port, 8480);
  t.match(doc, 'examples/controller.json');
});
