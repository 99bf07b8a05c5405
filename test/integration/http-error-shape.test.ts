// Both HTTP APIs, the controller's REST API and the agent's local API, answer the same error in
// the same shape (shared/http-error.ts): the same keys, the same code and status, and for an
// error both raise from the same facts the same message and details.
import t from 'tap';
import { Value } from '@sinclair/typebox/value';
import { ErrorResponseSchema } from '../../shared/http-error.js';
import { startTestController } from '../../harness/controller/test-controller.js';
import { startLocalAgentApi } from '../../harness/agent/local-api.js';

interface Answer {
  readonly status: number;
  readonly body: unknown;
}

const answer = async (res: Response): Promise<Answer> => ({
  status: res.status,
  body: await res.json(),
});

/** The key paths of a JSON value, sorted: the shape without the values. */
function shapeOf(v: unknown, prefix = ''): string[] {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return [prefix];
  return Object.entries(v)
    .flatMap(([k, x]) => shapeOf(x, prefix ? `${prefix}.${k}` : k))
    .sort();
}

t.test('the same error has the same shape from the controller and from the agent', async (t) => {
  const ctl = await startTestController();
  t.teardown(() => ctl.handle.stop());
  const { address: agentUrl } = await startLocalAgentApi(t);

  // An unknown route: the same facts on both sides, so the whole body must match.
  const missing = {
    controller: await answer(await fetch(`${ctl.handle.apiUrl}/v1/nowhere`, { headers: ctl.auth })),
    agent: await answer(await fetch(`${agentUrl}/v1/nowhere`)),
  };
  t.same(missing.controller, missing.agent, 'an unknown route: one status and body');
  t.same(missing.agent, {
    status: 404,
    body: {
      error: {
        code: 'BMF_ERR_NOT_FOUND',
        message: 'route GET /v1/nowhere not found',
        details: { kind: 'route', id: 'GET /v1/nowhere' },
      },
    },
  });

  // A body of a type the route does not take: each API lists its own accepted types.
  const plain = { method: 'POST', body: 'x', headers: { 'content-type': 'application/xml' } };
  const wrongType = {
    controller: await answer(
      await fetch(`${ctl.handle.apiUrl}/v1/rollouts`, {
        ...plain,
        headers: { ...plain.headers, ...ctl.auth },
      }),
    ),
    agent: await answer(await fetch(`${agentUrl}/v1/feedback`, plain)),
  };
  for (const [name, pair] of Object.entries({ missing, wrongType })) {
    for (const [side, a] of Object.entries(pair)) {
      t.ok(Value.Check(ErrorResponseSchema, a.body), `${name} from the ${side}: the schema`);
    }
    t.same(shapeOf(pair.controller.body), shapeOf(pair.agent.body), `${name}: the same keys`);
    t.equal(pair.controller.status, pair.agent.status, `${name}: the same status`);
  }
  t.equal(wrongType.agent.status, 415);
  t.match(wrongType.controller.body, { error: { code: 'BMF_ERR_CONTENT_TYPE' } });
  t.match(wrongType.agent.body, { error: { code: 'BMF_ERR_CONTENT_TYPE' } });
  t.same(
    shapeOf(wrongType.agent.body),
    ['error.code', 'error.details.accepted', 'error.details.reason', 'error.message'],
    'details carry the refused type and the accepted ones',
  );
});
