// Failures per arm in the analysis: the arm's bundle requests and errors, and the requests that
// failed before a model answered counted for the variant they failed on, whichever arm's report
// carried them; null (shown as a dash) only when no report of either arm came in.
import t from 'tap';
import { armFailures } from '../../../controller/experiment/failures.js';
import { LatencySketch } from '../../../shared/stats/sketch.js';
import { summaryOf } from './helpers.js';

const arm = (requests: number, errors: number) =>
  summaryOf(
    requests > 0
      ? [{ sketch: new LatencySketch(), requests, errors, feedbackCorrect: 0, feedbackTotal: 0 }]
      : [],
    requests > 0 ? 1 : 0,
  );
const failed = (requests: number) => ({
  requests,
  errors: requests,
  errorsByCode: { BMF_ERR_AGENT_NOT_READY: requests },
});

t.test('no report of either arm: nothing tells, null', async (t) => {
  const f = armFailures(arm(0, 0), arm(0, 0));
  t.same(f, {
    A: { requests: 0, errors: 0, failedBeforeModel: null },
    B: { requests: 0, errors: 0, failedBeforeModel: null },
  });
});

t.test('reports, none failed before a model: 0 for both variants', async (t) => {
  const f = armFailures(arm(10, 1), arm(0, 0));
  t.same(f.A, { requests: 10, errors: 1, failedBeforeModel: 0 });
  t.same(f.B, { requests: 0, errors: 0, failedBeforeModel: 0 }, 'B sent nothing, A reported');
});

t.test("B's failures carried by A's report count for B; both arms' carried ones add", async (t) => {
  const A = { ...arm(10, 0), failedBeforeModel: { B: failed(3), A: failed(1) } };
  const B = { ...arm(12, 2), failedBeforeModel: { B: failed(2) } };
  const f = armFailures(A, B);
  t.equal(f.A.failedBeforeModel, 1);
  t.equal(f.B.failedBeforeModel, 5);
  t.same([f.A.errors, f.B.errors], [0, 2], "the bundles' own errors stay apart");
});
