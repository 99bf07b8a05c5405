// Pre-authentication and oversized floods against a real controller process: its resident memory
// must not grow by more than 64 MiB while anonymous connections declare 100 MB CONNECTs and
// devices declare 100 MB publishes (issue 17 measured +304 MiB for four such CONNECTs).
import t from 'tap';
import { chaosController, chaosSeed, MiB, runFloods } from '../../harness/controller/chaos.js';

t.test('controller RSS stays bounded under pre-auth and oversized floods', async (t) => {
  const { random } = chaosSeed((l) => t.comment(l));
  const ctl = await chaosController({ test: t });
  await ctl.start();
  const results = await runFloods(ctl, { connections: 6, declared: 100_000_000, random });
  for (const r of results) {
    const growth = r.peakRss - r.baseRss;
    t.comment(
      `${r.name}: ${r.connections} x ${r.declaredBytes / 1e6} MB declared, ${(r.sentBytes / MiB).toFixed(1)} MiB written before close; RSS ${(r.baseRss / MiB).toFixed(0)} -> peak ${(r.peakRss / MiB).toFixed(0)} MiB`,
    );
    t.equal(r.closedEarly, r.connections, `${r.name}: every connection closed by the controller`);
    t.ok(growth <= 64 * MiB, `${r.name}: RSS growth ${(growth / MiB).toFixed(1)} MiB <= 64 MiB`);
  }
  const metrics = await (await fetch(`${ctl.apiUrl}/metrics`, { headers: ctl.headers })).text();
  t.comment(
    metrics
      .split('\n')
      .filter((l) => l.includes('refused'))
      .join('\n'),
  );
  t.equal(await ctl.stop(), 0, 'the controller still stops cleanly');
});
