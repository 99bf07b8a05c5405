// The embedded broker on an ephemeral port with two known devices, recording what it denies and
// the presence it reports: the set-up the broker's ACL and limits tests share. Closed with the test.
import type { Test } from 'tap';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../controller/broker/embedded.js';

export interface RecordingBroker {
  readonly broker: EmbeddedBroker;
  /** `mqtt://127.0.0.1:PORT` */
  readonly url: string;
  /** Device id -> the secret the broker accepts for it. */
  readonly secrets: Readonly<Record<string, string>>;
  /** `what:who:detail`, one entry per denial, in order. */
  readonly denials: string[];
  /** `id:online`, one entry per presence change, in order. */
  readonly presence: string[];
}

export const CONTROLLER_SECRET = 'controller-secret';

export async function startRecordingBroker(t: Test): Promise<RecordingBroker> {
  const secrets: Record<string, string> = { 'dev-a': 'secret-a', 'dev-b': 'secret-b' };
  const denials: string[] = [];
  const presence: string[] = [];
  const broker = await startEmbeddedBroker({
    host: '127.0.0.1',
    port: 0,
    controllerSecret: CONTROLLER_SECRET,
    authenticateDevice: (id, secret) => secrets[id] === secret,
    onDenied: (what, who, detail) => denials.push(`${what}:${who}:${detail}`),
    onPresence: (id, online) => presence.push(`${id}:${online}`),
  });
  t.teardown(() => broker.close());
  return { broker, url: `mqtt://127.0.0.1:${broker.port}`, secrets, denials, presence };
}
