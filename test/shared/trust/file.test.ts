import t from 'tap';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ErrorCode } from '../../../shared/errors.js';
import { verifyFile } from '../../../shared/trust/file.js';

const dir = mkdtempSync(join(tmpdir(), 'bmf-verify-file-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const bytes = Buffer.alloc(3 * 1024 * 1024 + 17, 7); // crosses several read chunks
const sha256 = createHash('sha256').update(bytes).digest('hex');
const path = join(dir, 'blob');
writeFileSync(path, bytes);

const rows: [string, { sha256: string; size: number }, ErrorCode | 'ok'][] = [
  ['matching size and digest', { sha256, size: bytes.length }, 'ok'],
  ['file longer than declared', { sha256, size: bytes.length - 1 }, 'BMF_ERR_TRUST_SIZE_MISMATCH'],
  ['file shorter than declared', { sha256, size: bytes.length + 1 }, 'BMF_ERR_TRUST_SIZE_MISMATCH'],
  ['wrong digest', { sha256: 'f'.repeat(64), size: bytes.length }, 'BMF_ERR_TRUST_HASH_MISMATCH'],
];
for (const [name, expected, code] of rows) {
  t.test(`path: ${name}`, async (t) => {
    if (code === 'ok') await t.resolves(verifyFile(path, expected));
    else await t.rejects(verifyFile(path, expected), { code });
  });
  t.test(`stream: ${name}`, async (t) => {
    async function* chunks() {
      for (let i = 0; i < bytes.length; i += 65536) yield bytes.subarray(i, i + 65536);
    }
    if (code === 'ok') await t.resolves(verifyFile(chunks(), expected));
    else await t.rejects(verifyFile(chunks(), expected), { code });
  });
}

t.test('missing file', async (t) => {
  await t.rejects(verifyFile(join(dir, 'nope'), { sha256, size: 1 }), {
    code: 'BMF_ERR_BUNDLE_FILE_MISSING',
  });
});

t.test('endless data: reading stops at the declared size', async (t) => {
  let produced = 0;
  let closed = false;
  async function* endless() {
    try {
      while (true) {
        produced += 4096;
        yield Buffer.alloc(4096);
      }
    } finally {
      closed = true;
    }
  }
  await t.rejects(verifyFile(endless(), { sha256, size: 10_000 }), {
    code: 'BMF_ERR_TRUST_SIZE_MISMATCH',
  });
  t.ok(closed, 'the source was closed');
  t.ok(produced <= 10_000 + 4096, `read ${produced} bytes, at most one chunk past the limit`);
});

t.test('an aborted signal stops verification', async (t) => {
  const ac = new AbortController();
  ac.abort(new Error('transfer too slow'));
  await t.rejects(verifyFile(path, { sha256, size: bytes.length }, { signal: ac.signal }), {
    message: 'transfer too slow',
  });
});
