// An aedes broker served on a free local port, for tests of the agent's MQTT link: the caller
// creates and configures the broker (hooks, listeners); both are closed when the test ends,
// also when it fails.
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Aedes } from 'aedes';
import type { Test } from 'tap';

/** Listens on 127.0.0.1 and answers the broker's `mqtt://` URL. */
export async function serveAedes(t: Test, broker: Aedes): Promise<string> {
  const server = createServer(broker.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(async () => {
    await new Promise((r) => server.close(r));
    await new Promise<void>((r) => broker.close(() => r()));
  });
  return `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
