// Tests wait for conditions, not for time (harness/wait.ts): a test that sleeps a fixed time to
// let something happen is slow, and one that sleeps to show that something does NOT happen
// passes on a loaded machine while the product is wrong. Every fixed delay left in test/ is
// listed here with the reason it is not such a wait; a new one fails this test until it is
// replaced by a condition or a barrier message, or listed with its reason.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;

/** File, a piece of the line that holds the delay, and why it is not a wait for something. */
const ALLOWED: readonly { file: string; line: string; why: string }[] = [
  {
    file: 'test/agent/helpers/drive.ts',
    line: 'setTimeout(r, 1)',
    why: 'a real millisecond between manual-clock steps, so device time does not outrun a worker reply',
  },
  {
    file: 'test/agent/telemetry/outage.test.ts',
    line: 'setTimeout(r, 5)',
    why: 'paces the traffic the telemetry counts; nothing waits on it',
  },
  {
    file: 'test/agent/serve/health-window.test.ts',
    line: 'manual.sleep(',
    why: "the manual clock's sleep: device time moved by the test, not wall time",
  },
  {
    file: 'test/cli/torch-input.test.ts',
    line: "setTimeout(() => r('hung'), ms)",
    why: 'a deadline: a model open that never returns (a FIFO) is reported as hung instead of stalling the run',
  },
  {
    file: 'test/controller/broker/embedded-callbacks.test.ts',
    line: "setTimeout(() => r('no answer'), ms)",
    why: 'a deadline: a SUBSCRIBE or CONNECT the broker never answers is reported instead of stalling the run',
  },
  {
    file: 'test/shared/bundle/regular-files.test.ts',
    line: "setTimeout(() => r('hung'), ms)",
    why: 'a deadline: a verify that never settles is reported as hung instead of stalling the run',
  },
  {
    file: 'test/shared/clock.test.ts',
    line: 'setInterval(() => undefined, 1000)',
    why: 'keeps the process alive while the unref-ed timer under test fires; nothing waits on it',
  },
  {
    file: 'test/controller/broker/limits.test.ts',
    line: 'within 10 s`)), 10_000)',
    why: 'a deadline on waiting for a broker event, not a wait',
  },
  {
    file: 'test/controller/distribution/blobs.test.ts',
    line: 'setTimeout(r, 5)',
    why: 'holds each chunk publish in flight so publishes the cap fails to hold back would overlap',
  },
  {
    file: 'test/integration/external-broker.test.ts',
    line: 'setTimeout(r, downMs)',
    why: "an injected fault's duration (broker down past the clients' reconnect period)",
  },
  {
    file: 'test/integration/cluster.test.ts',
    line: 'setTimeout(r, 100)',
    why: "the devices' reporting period (a round every 2 s), checked every 100 ms for the stop",
  },
  {
    file: 'test/integration/nats-node-loss.test.ts',
    line: 'setInterval(() => ids.forEach(report), STATE_EVERY_MS)',
    why: "the devices' state reporting period; the test waits on conditions",
  },
  {
    file: 'test/e2e/readme-walk.test.ts',
    line: "c.kill('SIGKILL'), 10_000)",
    why: 'a deadline: a child that ignores SIGINT is killed',
  },
  {
    file: 'test/e2e/readme-walk.test.ts',
    line: 'not ready:',
    why: 'a deadline on a background command printing its ready line',
  },
];

/** A timer or sleep with a delay: setTimeout/setInterval/sleep calls, or the promise timers. */
const DELAY =
  /\b(?:setTimeout|setInterval|sleep)\s*\(|\bset(?:Timeout|Interval)\b[^}]*\}\s*from\s*'node:timers\/promises'/;

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? tsFiles(join(dir, e.name))
      : e.name.endsWith('.ts')
        ? [join(dir, e.name)]
        : [],
  );
}

const SELF = relative(ROOT, new URL(import.meta.url).pathname);
const uses = tsFiles(join(ROOT, 'test')).flatMap((path) => {
  const file = relative(ROOT, path);
  if (file === SELF) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .map((text, i) => ({ file, n: i + 1, text: text.trim() }))
    .filter(({ text }) => DELAY.test(text) && !/^(\/\/|\*|\/\*)/.test(text));
});
const allows = (u: { file: string; text: string }) =>
  ALLOWED.find((a) => a.file === u.file && u.text.includes(a.line));

t.test('every fixed delay in test/ is listed with its reason', async (t) => {
  t.ok(uses.length >= ALLOWED.length, `${uses.length} delays found`);
  const unlisted = uses.filter((u) => !allows(u)).map((u) => `${u.file}:${u.n}: ${u.text}`);
  t.same(unlisted, [], 'wait for a condition or a barrier instead (harness/wait.ts)');
});

t.test('every listed delay still exists', async (t) => {
  const stale = ALLOWED.filter((a) => !uses.some((u) => allows(u) === a)).map(
    (a) => `${a.file}: ${a.line}`,
  );
  t.same(stale, [], 'remove entries whose delay is gone');
});

t.test('the scan finds a fixed sleep written the usual ways', async (t) => {
  for (const line of [
    'await new Promise((r) => setTimeout(r, 150));',
    'await sleep(200);',
    "import { setTimeout as delay } from 'node:timers/promises';",
  ]) {
    t.ok(DELAY.test(line), line);
  }
  for (const line of [
    'await waitFor(`the marker`, () => seen);',
    "import { setImmediate as nextTurn } from 'node:timers/promises';",
  ]) {
    t.notOk(DELAY.test(line), `not a fixed delay: ${line}`);
  }
});
