// The dashboard reaches the controller through the one typed API client only: its pages call
// the client's methods (types from the route schemas), never fetch or a hand-built REST path, and
// controller/web/app/api.js is nothing but the client made for the page's origin. The one other
// connection is the server-sent event stream (live.js), which fetch cannot replace.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const APP = new URL('../../controller/web/app/', import.meta.url).pathname;
const sources = readdirSync(APP)
  .filter((f) => f.endsWith('.js'))
  .map((f) => ({ file: f, text: readFileSync(join(APP, f), 'utf8') }));
// Comments may name routes; only code counts.
const code = (text: string) => text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');

t.ok(sources.length >= 8, `${sources.length} dashboard sources read`);

t.test('no page calls fetch or XMLHttpRequest: the client does', async (t) => {
  const direct = sources
    .filter((s) => /\bfetch\s*\(|XMLHttpRequest|\.sendBeacon\s*\(/.test(code(s.text)))
    .map((s) => s.file);
  t.same(direct, [], 'files that reach the network past the typed client');
});

t.test('no page spells a REST path: it calls a client method', async (t) => {
  const paths = sources.flatMap((s) =>
    [...code(s.text).matchAll(/['"`]\/(v1|ui\/api|ui\/session|experiments)\b[^'"`]*/g)].map(
      (m) => `${s.file}: ${m[0]}`,
    ),
  );
  t.same(paths, [], 'REST paths written in the dashboard');
});

t.test('api.js makes the typed client for the page origin', async (t) => {
  const api = sources.find((s) => s.file === 'api.js');
  t.ok(api, 'api.js exists');
  const text = code(api?.text ?? '');
  t.match(text, /import \{ createControllerClient \} from '\.\.\/\.\.\/api\/client\.js'/);
  t.match(text, /baseUrl: ''/, 'same origin');
  t.match(text, /credentials: 'same-origin'/, 'the session cookie goes along');
});

t.test('the only other connection is the event stream in live.js', async (t) => {
  const streams = sources.filter((s) => /new EventSource\(/.test(code(s.text))).map((s) => s.file);
  t.same(streams, ['live.js']);
});
