import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { decodeMessage, encodeMessage } from '../../../shared/wire/codec.js';
import type { BlobOffer } from '../../../shared/wire/messages.js';
import { broadcastChunkTopic, deviceTopic } from '../../../shared/wire/topics.js';
import { waitFor } from '../../../harness/wait.js';
import { startSlice } from './harness.js';
import type { Digest } from '../../../shared/ids.js';
import type { Publish } from '../../../controller/distribution/assignments.js';

/** A device-side fetch recorder: offers, chunks by index, and where each chunk came from. */
async function fetcher(client: MqttClient, id: string, digest: Digest) {
  const state = {
    offer: undefined as BlobOffer | undefined,
    chunks: new Map<number, Buffer>(),
    viaBroadcast: 0,
    viaDevice: 0,
    /** Barrier chunks (sent by the test after the chunks it waits for), not blob data. */
    barriers: 0,
  };
  client.on('message', (topic, payload) => {
    const bytes = new Uint8Array(payload);
    if (topic === deviceTopic('blobOffer', id)) state.offer = decodeMessage('BlobOffer', bytes);
    else {
      const c = decodeMessage('BlobChunk', bytes);
      if (c.requestId === BARRIER) state.barriers++;
      else if (topic === broadcastChunkTopic(digest)) state.viaBroadcast++;
      else state.viaDevice++;
      if (c.requestId !== BARRIER) state.chunks.set(c.index, Buffer.from(c.data));
    }
  });
  await client.subscribeAsync([
    deviceTopic('blobOffer', id),
    deviceTopic('blobChunk', id),
    broadcastChunkTopic(digest),
  ]);
  const request = (indices: number[], wantOffer: boolean) =>
    client.publishAsync(
      deviceTopic('blobRequest', id),
      Buffer.from(
        encodeMessage('BlobChunkRequest', {
          requestId: `r-${id}-${indices.length}`,
          digest,
          indices,
          wantOffer,
        }),
      ),
      { qos: 1 },
    );
  const assembled = () =>
    Buffer.concat([...state.chunks.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]));
  return { state, request, assembled };
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

const BARRIER = 'barrier';
/**
 * Publishes a barrier chunk on `topic` through the controller's link, the connection that sends
 * the blob's chunks: the broker keeps one publisher's order on a topic, so when the barrier is in,
 * every chunk sent before it is too.
 */
async function barrier(link: { publish: Publish }, topic: string, digest: Digest) {
  const bytes = encodeMessage('BlobChunk', {
    digest,
    index: 0,
    data: new Uint8Array(1),
    chunkCount: 1,
    requestId: BARRIER,
  });
  await link.publish(topic, bytes, { qos: 0 });
}

t.test('one device fetches a blob chunk by chunk; the table and data check out', async (t) => {
  const s = await startSlice(t);
  await s.assignments.assignBundle('dev-1', s.bundle.digest, 'test');
  const dev = await s.connectDevice('dev-1');
  const f = await fetcher(dev, 'dev-1', s.bundle.bmodelSha256);
  await f.request([], true);
  await waitFor('offer', () => f.state.offer !== undefined);
  const offer = f.state.offer as BlobOffer;
  t.equal(offer.errorCode, '');
  t.equal(offer.size, s.bundle.bmodel.length);
  t.equal(offer.chunkSize, 64 * 1024);
  const count = Math.ceil(offer.size / offer.chunkSize);
  t.equal(offer.chunkSha256.length, count);
  await f.request([...Array(count).keys()], false);
  await waitFor('all chunks', () => f.state.chunks.size === count);
  for (const [i, data] of f.state.chunks) {
    t.equal(sha(data), Buffer.from(offer.chunkSha256[i] ?? []).toString('hex'), `chunk ${i} hash`);
  }
  t.equal(sha(f.assembled()), s.bundle.bmodelSha256, 'reassembled blob has the blob sha256');
  t.equal(s.blobs.stats().perDevice.chunks, count);
  t.equal(s.blobs.stats().broadcast.chunks, 0, 'one device: no broadcast');
});

t.test('five devices fetching the same blob get each chunk broadcast once', async (t) => {
  const ids = ['d1', 'd2', 'd3', 'd4', 'd5'];
  const s = await startSlice(t, {
    devices: ids.map((id) => [id, 'bm1684x'] as [string, string]),
    bmodelBytes: 1_000_000,
  });
  const digest = s.bundle.bmodelSha256;
  const fs: Awaited<ReturnType<typeof fetcher>>[] = [];
  for (const id of ids) {
    await s.assignments.assignBundle(id, s.bundle.digest, 'test');
    fs.push(await fetcher(await s.connectDevice(id), id, digest));
  }
  await Promise.all(fs.map((f) => f.request([], true)));
  await waitFor('offers', () => fs.every((f) => f.state.offer));
  const count = Math.ceil(1_000_000 / (64 * 1024));
  // QoS 0 may lose messages in general; here (loopback) everything should arrive. Whatever is
  // missing is asked for per device, as an agent does.
  await waitFor('broadcast run', () => s.blobs.stats().broadcast.chunks === count);
  await barrier(s.link, broadcastChunkTopic(digest), digest);
  await waitFor('the run through to every device', () => fs.every((f) => f.state.barriers === 1));
  for (const f of fs) {
    const missing = [...Array(count).keys()].filter((i) => !f.state.chunks.has(i));
    if (missing.length > 0) await f.request(missing, false);
  }
  await waitFor('all chunks', () => fs.every((f) => f.state.chunks.size === count));
  const st = s.blobs.stats();
  t.equal(st.broadcast.runs, 1, 'one broadcast run');
  t.equal(st.broadcast.chunks, count, 'each chunk published once on the broadcast topic');
  for (const f of fs) {
    t.equal(sha(f.assembled()), digest, 'every device reassembles the blob');
    t.equal(f.state.viaBroadcast, count, 'every device received every chunk by broadcast');
  }
  t.ok(st.broadcast.bytes > 0 && st.perDevice.bytes < st.broadcast.bytes, 'bytes counted per mode');
  t.equal(st.offers, 5);
});

t.test('a rogue device gets an error answer and no data; garbage is counted', async (t) => {
  const s = await startSlice(t, {
    devices: [
      ['dev-1', 'bm1684x'],
      ['rogue', 'bm1684x'],
    ],
  });
  await s.assignments.assignBundle('dev-1', s.bundle.digest, 'test');
  const rogue = await s.connectDevice('rogue');
  const f = await fetcher(rogue, 'rogue', s.bundle.bmodelSha256);
  await f.request([0, 1, 2], true);
  await waitFor('refusal', () => f.state.offer !== undefined);
  t.equal(f.state.offer?.errorCode, 'BMF_ERR_FORBIDDEN');
  t.equal(f.state.offer?.chunkSha256.length, 0, 'no chunk table');
  // Served chunks would have been published before the server counts the request handled and
  // none pending; a barrier on the rogue's chunk topic after that shows they would be in.
  await waitFor(
    'the request handled, no chunk pending',
    () => s.blobs.stats().requests === 1 && s.blobs.stats().chunksPending === 0,
  );
  await barrier(s.link, deviceTopic('blobChunk', 'rogue'), s.bundle.bmodelSha256);
  await waitFor('the barrier at the rogue', () => f.state.barriers === 1);
  t.equal(f.state.chunks.size, 0, 'no chunk data');
  t.equal(s.blobs.stats().perDevice.chunks, 0, 'none sent');

  const before = s.blobs.stats().dropped;
  await rogue.publishAsync(deviceTopic('blobRequest', 'rogue'), Buffer.from([0xff, 0x01, 0x02]), {
    qos: 1,
  });
  await waitFor('drop counted', () => s.blobs.stats().dropped === before + 1);
  t.ok(s.drops.some((d) => d === 'blobs-blobRequest:BMF_ERR_WIRE_DECODE'));

  // The controller keeps serving: the legitimate device still gets its offer.
  const dev = await s.connectDevice('dev-1');
  const g = await fetcher(dev, 'dev-1', s.bundle.bmodelSha256);
  await g.request([], true);
  await waitFor('offer after garbage', () => g.state.offer !== undefined);
  t.equal(g.state.offer?.errorCode, '');
});

/**
 * Four devices, three of which start a broadcast run that is held before its 5th chunk; the
 * fourth (`late`) has the blob assigned but has not asked for anything yet.
 */
async function heldRun(t: Test) {
  const ids = ['d1', 'd2', 'd3', 'd4'];
  let calls = 0;
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let holding = false;
  const s = await startSlice(t, {
    devices: ids.map((id) => [id, 'bm1684x'] as [string, string]),
    bmodelBytes: 1_000_000,
    wrapChunkPublish: (publish) => async (topic, bytes, o) => {
      if (topic.endsWith('/chunk') && !topic.includes('/d/') && ++calls === 5) {
        holding = true;
        await held;
      }
      await publish(topic, bytes, o);
    },
  });
  const digest = s.bundle.bmodelSha256;
  const count = Math.ceil(1_000_000 / (64 * 1024));
  const all = [...Array(count).keys()];
  const fs: Awaited<ReturnType<typeof fetcher>>[] = [];
  for (const id of ids) {
    await s.assignments.assignBundle(id, s.bundle.digest, 'test');
    fs.push(await fetcher(await s.connectDevice(id), id, digest));
  }
  const [a, b, c, late] = fs as [(typeof fs)[0], (typeof fs)[0], (typeof fs)[0], (typeof fs)[0]];
  await Promise.all([a, b, c].map((f) => f.request([], true)));
  await waitFor('offers', () => [a, b, c].every((f) => f.state.offer));
  // Asking for chunks shows a device holds the offer; the run starts once all three have.
  await Promise.all([a, b, c].map((f) => f.request(all, false)));
  await waitFor('run held at its 5th chunk', () => holding);
  return { s, fs, late, digest, count, all, release };
}

t.test('a device joining a running broadcast gets a full turn of the same run', async (t) => {
  const { s, fs, late, digest, count, all, release } = await heldRun(t);
  await late.request([], true);
  await waitFor('late offer', () => late.state.offer !== undefined);
  await late.request(all, false);
  await waitFor('late request seen', () => s.blobs.stats().coveredByBroadcast >= 4 * count);
  release();
  await waitFor('all chunks', () => fs.every((f) => f.state.chunks.size === count));
  await waitFor('run over', () => s.blobs.stats().broadcast.chunks === count + 5);
  const st = s.blobs.stats();
  t.equal(st.broadcast.runs, 1, 'one run for all four');
  t.equal(st.broadcast.participants, 4);
  // The late device's turn starts where it asked for chunks: after the 4 chunks sent and the
  // 5th, held on its way to the broker.
  t.equal(st.broadcast.chunks, count + 5, 'one turn, wrapped around for the late device');
  t.equal(st.perDevice.chunks, 0, 'chunk requests of participants were left to the run');
  for (const f of fs) t.equal(sha(f.assembled()), digest, 'every device reassembles the blob');

  // Right after the run, a participant's request is taken for one sent during it; once the
  // settle time has passed it is a repair, served per device.
  await late.request([3], false);
  await waitFor('settling', () => s.blobs.stats().coveredByBroadcast === 4 * count + 1);
  t.equal(s.blobs.stats().perDevice.chunks, 0);
  s.advance(1001);
  await late.request([3], false);
  await waitFor('repair per device', () => late.state.viaDevice === 1);
  t.equal(s.blobs.stats().perDevice.chunks, 1);
});

t.test('per-device chunk publishes are capped over all devices', async (t) => {
  const ids = ['d1', 'd2', 'd3', 'd4'];
  let running = 0;
  let most = 0;
  const s = await startSlice(t, {
    devices: ids.map((id) => [id, 'bm1684x'] as [string, string]),
    bmodelBytes: 500_000,
    blobs: { broadcastThreshold: 100, maxRepairsInFlight: 2 },
    wrapChunkPublish: (publish) => async (topic, bytes, o) => {
      most = Math.max(most, ++running);
      // Not a wait for anything: keeps each publish in flight so that publishes the cap fails
      // to hold back would overlap and show in `most`.
      await new Promise((r) => setTimeout(r, 5));
      await publish(topic, bytes, o);
      running--;
    },
  });
  const digest = s.bundle.bmodelSha256;
  const count = Math.ceil(500_000 / (64 * 1024));
  const fs: Awaited<ReturnType<typeof fetcher>>[] = [];
  for (const id of ids) {
    await s.assignments.assignBundle(id, s.bundle.digest, 'test');
    fs.push(await fetcher(await s.connectDevice(id), id, digest));
  }
  await Promise.all(fs.map((f) => f.request([], true)));
  await waitFor('offers', () => fs.every((f) => f.state.offer));
  await Promise.all(fs.map((f) => f.request([...Array(count).keys()], false)));
  await waitFor('all chunks', () => fs.every((f) => f.state.chunks.size === count));
  t.equal(most, 2, 'never more than maxRepairsInFlight at once, and that many used');
  t.equal(s.blobs.stats().perDevice.chunks, ids.length * count);
  t.equal(s.blobs.stats().broadcast.runs, 0);
  for (const f of fs) t.equal(sha(f.assembled()), digest);
});

t.test(
  'a participant that asks for chunks only after the run ended is served at once',
  async (t) => {
    const { s, late, count, release } = await heldRun(t);
    // The late device joins (asks for the offer) but does not ask for chunks while the run turns:
    // its turn is provisional, counted from joining.
    await late.request([], true);
    await waitFor('late offer', () => late.state.offer !== undefined);
    release();
    // Its provisional turn runs from the 5th position on: count + 5 chunks in all.
    // The run ends in the same turn that counts its last chunk (no await between them).
    await waitFor('run over', () => s.blobs.stats().broadcast.chunks === count + 5);
    const before = s.blobs.stats().perDevice.chunks;
    // Within the settle time, without advancing the clock: served per device, not left to the run.
    await late.request([3], false);
    await waitFor('served per device', () => s.blobs.stats().perDevice.chunks === before + 1);
    t.equal(s.blobs.stats().broadcast.participants, 4);
  },
);
