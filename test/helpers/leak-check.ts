// Runs after the whole suite (.taprc `after`): every process a test started carries this run's
// marker (run-marker.ts, processes.ts). Any still alive now was leaked by a test: name it, kill
// it, and fail the run.
import { readdirSync, readFileSync } from 'node:fs';
import { TEST_RUN_ENV } from '../../harness/processes.js';
import { waitFor } from '../../harness/wait.js';

const marker = `${TEST_RUN_ENV}=${process.ppid}`;

function leftovers(): { pid: number; cmd: string }[] {
  const found: { pid: number; cmd: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
      if (!env.includes(marker)) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      if (/\) Z /.test(stat)) continue; // exited, waiting for its parent to reap it
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ').trim();
      found.push({ pid, cmd });
    } catch {
      // Gone meanwhile, or another user's process.
    }
  }
  return found;
}

// A process ended in a test's teardown may take a moment to disappear.
let left = leftovers();
await waitFor(
  'started processes to disappear',
  () => (left = leftovers()).length === 0,
  2000,
).catch(
  () => undefined, // named below
);
if (left.length === 0) {
  console.log(`# leak check: no process started by this test run is alive`);
} else {
  for (const { pid } of left) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
  console.error(`\nleak check: ${left.length} process(es) started by tests outlived their test:`);
  for (const { pid, cmd } of left) console.error(`  pid ${pid}: ${cmd}`);
  console.error('killed now; the test that started each must end it (harness/processes.ts)');
  process.exitCode = 1;
}
