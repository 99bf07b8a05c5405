// Loaded into every test process (.taprc node-arg). Marks the environment every process a test
// starts inherits with the id of this test run (the tap runner's pid), so the check that runs after
// the suite (leak-check.ts) can find any of them still alive, however deeply nested.
import { TEST_RUN_ENV } from '../../harness/processes.js';

process.env[TEST_RUN_ENV] ??= String(process.ppid);
