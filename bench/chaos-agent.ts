// Agent chaos, long round (`npm run bench -- chaos-agent`): real agent processes killed with
// SIGKILL at seeded random moments of updates (fetch, verify, install, swap), during restores
// (sometimes twice) and with assignments issued while the agent is down
// (harness/agent/chaos.ts; test/chaos/agent-kill.test.ts runs a short round). Prints the
// seed, trials, kills, what each restart served first (old / new verified bundle, other) and the
// assignments lost. BMF_CHAOS_TRIALS (default 200) and BMF_CHAOS_SEED set the round.
import { runAgentChaos } from '../harness/agent/chaos.js';

export async function run(): Promise<void> {
  const trials = Number(process.env.BMF_CHAOS_TRIALS ?? 200);
  const seed = Number(process.env.BMF_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
  console.log(`agent chaos: ${trials} trials, seed ${seed} (replay: BMF_CHAOS_SEED=${seed})`);
  const started = Date.now();
  const r = await runAgentChaos({
    trials,
    seed,
    log: (line) => console.log(`  ${line}`),
  });
  console.log(`trials                      ${r.trials}`);
  console.log(`kills (SIGKILL)             ${r.kills}`);
  console.log(`kill moments                ${JSON.stringify(r.byMoment)}`);
  console.log(
    `served first per restart    old ${r.served.old} / new ${r.served.new} / other ${r.served.other}`,
  );
  console.log(`assignments lost            ${r.lostAssignments}`);
  console.log(`duration                    ${Math.round((Date.now() - started) / 1000)} s`);
  if (r.lostAssignments > 0 || r.served.other > 0) process.exitCode = 1;
}
