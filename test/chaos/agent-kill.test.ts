// Short seeded round of the agent chaos run (harness/agent/chaos.ts): real agent processes
// killed with SIGKILL in fetch, verify, install, swap and restore, and assignments issued while
// the agent is down. 0 lost assignments, and after every restart the agent serves the old or the
// new verified bundle, nothing else. BMF_CHAOS_SEED replays a round; `npm run bench -- chaos-agent`
// runs the long one.
import t from 'tap';
import { runAgentChaos } from '../../harness/agent/chaos.js';

const seed = Number(process.env.BMF_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
const trials = Number(process.env.BMF_CHAOS_TRIALS ?? 6);

t.test(`agent kill -9 chaos, seed ${seed}`, async (t) => {
  t.comment(`seed ${seed} (replay: BMF_CHAOS_SEED=${seed})`);
  const r = await runAgentChaos({ trials, seed, log: (l) => t.comment(l) });
  t.comment(JSON.stringify(r));
  t.equal(r.lostAssignments, 0, 'no assignment lost');
  t.equal(r.served.other, 0, 'nothing but the old or the new verified bundle served');
  t.equal(r.served.old + r.served.new, trials, 'every restart served a verified bundle');
});
