// Operator authentication: `Authorization: Bearer <token>` on every route except the health
// probes, the OpenAPI docs and routes that authenticate devices themselves (config.public).
// Tokens are compared as SHA-256 digests with timingSafeEqual, so neither the length nor the
// content of a valid token leaks through timing.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { bmfError } from '../../shared/errors.js';

/** The docs, and blob downloads, which authenticate devices themselves (HTTP Basic). */
const PUBLIC_PREFIXES = ['/docs', '/v1/blobs'];

declare module 'fastify' {
  interface FastifyContextConfig {
    /** No operator token needed (probes; routes with their own device authentication). */
    public?: boolean;
  }
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

export function tokenChecker(tokens: readonly string[]): (presented: string) => boolean {
  const known = tokens.map(digest);
  return (presented) => {
    const d = digest(presented);
    let ok = false;
    for (const k of known) ok = timingSafeEqual(k, d) || ok;
    return ok;
  };
}

function isPublic(request: FastifyRequest): boolean {
  if (request.routeOptions.config?.public) return true;
  const path = request.url.split('?')[0] ?? '';
  return PUBLIC_PREFIXES.some((p) => path === p || path.startsWith(`${p}/`));
}

export function installOperatorAuth(app: FastifyInstance, tokens: readonly string[]): void {
  const valid = tokenChecker(tokens);
  app.addHook('onRequest', async (request) => {
    if (isPublic(request)) return;
    const header = request.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m?.[1] || !valid(m[1])) throw bmfError('BMF_ERR_UNAUTHORIZED');
  });
}
