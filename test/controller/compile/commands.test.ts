import t from 'tap';
import { readFileSync } from 'node:fs';
import {
  bmnetoArgv,
  bmnetpArgv,
  bmnetuArgv,
  caliModelArgv,
  calibrationUsePbArgv,
  modelDeployArgv,
  modelTransformArgv,
  runCalibrationArgv,
} from '../../../controller/compile/index.js';
import { parsePreprocessSpec } from '../../../shared/preprocess/index.js';

interface Case {
  name: string;
  builder: string;
  args: Record<string, unknown>;
  argv: string[];
}
const table = JSON.parse(
  readFileSync(new URL('../../fixtures/compile/commands.json', import.meta.url), 'utf8'),
) as { preprocess: Record<string, unknown>; cases: Case[] };

// Builders take typed arguments; the table is data, so the cast is the test's edge.
const builders: Record<string, (a: never) => string[]> = {
  modelTransform: modelTransformArgv,
  modelDeploy: modelDeployArgv,
  runCalibration: runCalibrationArgv,
  bmneto: bmnetoArgv,
  bmnetp: bmnetpArgv,
  caliModel: caliModelArgv,
  calibrationUsePb: calibrationUsePbArgv,
  bmnetu: bmnetuArgv,
};

for (const c of table.cases) {
  t.test(c.name, async (t) => {
    const build = builders[c.builder];
    t.ok(build, `builder ${c.builder} exists`);
    const args = { ...c.args };
    if (typeof args.preprocess === 'string') {
      args.preprocess = parsePreprocessSpec(table.preprocess[args.preprocess]);
    }
    t.same(build?.(args as never), c.argv);
  });
}
