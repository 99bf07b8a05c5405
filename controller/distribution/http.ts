// Optional HTTP download of blobs, with Range so an interrupted download resumes. Devices
// authenticate with HTTP Basic (device id + the secret they use for MQTT) and may download only
// blobs of bundles in their latest assignment, the same rule as the MQTT blob server. Errors are
// thrown as BmfErrors; the API's one error handler turns them into responses.
import { createReadStream } from 'node:fs';
import { Type } from '@sinclair/typebox';
import { DigestSchema } from '../../shared/ids.js';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { bmfError } from '../../shared/errors.js';
import { isHexDigest } from '../../shared/wire/ids.js';
import type { DeviceRepo } from '../store/devices.js';
import type { StoreMode } from '../store/repository.js';
import type { Registry } from '../registry/registry.js';
import { responses } from '../api/schemas.js';
import type { AssignmentService } from './assignments.js';
import { decideRange } from './http-range.js';

const BlobBody = (description: string) =>
  Type.String({ format: 'binary', contentMediaType: 'application/octet-stream', description });

export interface BlobDownloadOptions {
  readonly registry: Pick<Registry, 'blobPath' | 'blobSize' | 'blobsOf'>;
  readonly devices: Pick<DeviceRepo<StoreMode>, 'authenticate'>;
  readonly assignments: Pick<AssignmentService, 'latest'>;
}

/** Device id from a valid `Authorization: Basic` header, else undefined. */
async function deviceFromBasic(
  header: string | undefined,
  devices: BlobDownloadOptions['devices'],
): Promise<string | undefined> {
  const m = /^Basic ([A-Za-z0-9+/=]{1,1024})$/.exec(header ?? '');
  if (!m?.[1]) return undefined;
  const text = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon <= 0) return undefined;
  const id = text.slice(0, colon);
  return (await devices.authenticate(id, text.slice(colon + 1))) ? id : undefined;
}

function unauthorized(reply: FastifyReply, who: string): never {
  void reply.header('www-authenticate', 'Basic realm="bmfleet-blobs", charset="UTF-8"');
  throw bmfError('BMF_ERR_DEVICE_AUTH', { device: who });
}

export async function blobDownloadRoutes(
  app: FastifyInstance,
  opts: BlobDownloadOptions,
): Promise<void> {
  const { registry, devices, assignments } = opts;
  app.get<{ Params: { digest: string } }>(
    '/v1/blobs/:digest',
    {
      schema: {
        params: Type.Object({ digest: DigestSchema }),
        // The body is the blob's bytes, streamed (no serializer runs on a stream); every error,
        // 416 included, is the one error shape (shared/http-error.ts) from the API's handler.
        response: responses({
          200: BlobBody('the whole blob'),
          206: BlobBody('the requested byte range (Content-Range says which)'),
        }),
      },
    },
    async (req, reply) => {
      const deviceId = await deviceFromBasic(req.headers.authorization, devices);
      if (!deviceId) unauthorized(reply, '(basic auth)');
      const { digest } = req.params;
      if (!isHexDigest(digest)) throw bmfError('BMF_ERR_NOT_FOUND', { kind: 'blob', id: digest });
      const size = await registry.blobSize(digest); // BMF_ERR_NOT_FOUND for blobs the registry lacks
      const latest = await assignments.latest(deviceId);
      let assigned = false;
      for (const v of latest?.assignment.variants ?? []) {
        if ((await registry.blobsOf(v.bundle.digest)).includes(digest)) assigned = true;
      }
      if (!assigned) {
        throw bmfError('BMF_ERR_FORBIDDEN', {
          reason: `blob ${digest} is not assigned to ${deviceId}`,
        });
      }
      const path = await registry.blobPath(digest);
      const range = decideRange(req.headers.range, size);
      void reply
        .header('accept-ranges', 'bytes')
        .header('content-type', 'application/octet-stream')
        .header('etag', `"${digest}"`);
      if (range.kind === 'unsatisfiable') {
        void reply.header('content-range', `bytes */${size}`);
        throw bmfError('BMF_ERR_RANGE_NOT_SATISFIABLE', {
          range: String(req.headers.range),
          size,
        });
      }
      if (range.kind === 'full' || size === 0) {
        void reply.header('content-length', size);
        return reply.send(createReadStream(path));
      }
      void reply
        .code(206)
        .header('content-range', `bytes ${range.start}-${range.end}/${size}`)
        .header('content-length', range.end - range.start + 1);
      return reply.send(createReadStream(path, { start: range.start, end: range.end }));
    },
  );
}
