// `bmfleet controller --store URL`: a URL that is not PostgreSQL's, or a server that does not
// answer, stops the start with the store's typed error (the password never shown) before any
// other part is built.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadControllerConfig } from '../../../controller/config.js';
import { startController } from '../../../controller/main.js';
import { silentLogger } from '../../../shared/log.js';

const dir = mkdtempSync(join(tmpdir(), 'bmf-ctl-store-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const config = (store: string) =>
  loadControllerConfig({
    env: {},
    flags: { dataDir: join(dir, 'data'), store, 'api.port': '0', 'broker.embedded.port': '0' },
  });
const quiet = { logger: silentLogger() };

t.test('the store URL is checked before the controller starts', async (t) => {
  for (const [url, code] of [
    ['mysql://bmf:hunter2secret@db/fleet', 'BMF_ERR_STORE_URL'],
    ['postgres:///fleet', 'BMF_ERR_STORE_URL'],
    // Nothing listens on port 9 (discard) of loopback here.
    ['postgres://bmf:hunter2secret@127.0.0.1:9/fleet', 'BMF_ERR_STORE_UNREACHABLE'],
  ] as const) {
    const e = await startController(config(url), quiet).then(
      (h) => h.stop().then(() => undefined),
      (err: unknown) => err as { code?: string; message: string },
    );
    t.equal(e?.code, code, url);
    t.notMatch(e?.message ?? '', /hunter2secret/, 'the password is not shown');
  }
});
