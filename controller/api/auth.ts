// Operator authentication: `Authorization: Bearer <token>` on every route except the health
// probes, the OpenAPI docs and routes that authenticate devices themselves (config.public).
// Tokens are compared as SHA-256 digests with timingSafeEqual, so neither the length nor the
// content of a valid token leaks through timing.
//
// Two roles: an operator token may do everything; a read-only token (config api.readOnlyTokens)
// may read everything and change nothing. A browser signed in to the dashboard (controller/web)
// presents its HttpOnly session cookie instead of a header; a change it asks for (any method but
// GET/HEAD/OPTIONS) must carry the session's CSRF token in `x-csrf-token`.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { bmfError } from '../../shared/errors.js';

/** The docs, and blob downloads, which authenticate devices themselves (HTTP Basic). */
const PUBLIC_PREFIXES = ['/docs', '/v1/blobs'];

export type Role = 'operator' | 'viewer';

/** A signed-in browser session as the auth hook needs it. */
export interface SessionGrant {
  readonly role: Role;
  readonly csrf: string;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** No operator token needed (probes; routes with their own device authentication). */
    public?: boolean;
    /** A change a read-only caller may still make (signing out of its own session). */
    readOnlyAllowed?: boolean;
  }
  interface FastifyRequest {
    /** Set by the auth hook on authenticated requests. */
    role?: Role;
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

/** The role a bearer token grants, or undefined for an unknown token. */
export function roleChecker(
  tokens: readonly string[],
  readOnlyTokens: readonly string[] = [],
): (presented: string) => Role | undefined {
  const operator = tokenChecker(tokens);
  const viewer = tokenChecker(readOnlyTokens);
  return (presented) => {
    // Both compared every time: which list matched does not show in the timing.
    const [o, v] = [operator(presented), viewer(presented)];
    return o ? 'operator' : v ? 'viewer' : undefined;
  };
}

export const sameSecret = (a: string, b: string): boolean =>
  a.length > 0 && timingSafeEqual(digest(a), digest(b));

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function isPublic(request: FastifyRequest): boolean {
  if (request.routeOptions.config?.public) return true;
  const path = request.url.split('?')[0] ?? '';
  return PUBLIC_PREFIXES.some((p) => path === p || path.startsWith(`${p}/`));
}

export interface OperatorAuthOptions {
  readonly readOnlyTokens?: readonly string[];
  /** The dashboard's session of a request (from its cookie), if any. */
  readonly session?: (
    request: FastifyRequest,
  ) => SessionGrant | undefined | Promise<SessionGrant | undefined>;
}

/** A page a browser asks for without credentials goes to the sign-in page, not a JSON 401. */
function wantsPage(request: FastifyRequest): boolean {
  return (
    request.method === 'GET' &&
    !request.url.startsWith('/v1/') &&
    /\btext\/html\b/.test(request.headers.accept ?? '')
  );
}

export function installOperatorAuth(
  app: FastifyInstance,
  tokens: readonly string[],
  opts: OperatorAuthOptions = {},
): void {
  const roleOf = roleChecker(tokens, opts.readOnlyTokens);
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    if (isPublic(request)) return;
    const unsafe = !SAFE_METHODS.has(request.method);
    const header = request.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    let role: Role | undefined;
    if (m?.[1]) {
      role = roleOf(m[1]);
      if (!role) throw bmfError('BMF_ERR_UNAUTHORIZED');
    } else {
      const session = await opts.session?.(request);
      if (!session) {
        if (wantsPage(request)) {
          return reply.redirect(`/?next=${encodeURIComponent(request.url)}`, 303);
        }
        throw bmfError('BMF_ERR_UNAUTHORIZED');
      }
      if (unsafe) {
        const presented = request.headers['x-csrf-token'];
        if (typeof presented !== 'string' || !presented) {
          throw bmfError('BMF_ERR_CSRF', {
            reason: 'the request has no x-csrf-token header',
            hint: 'sign in again in the dashboard; scripts use Authorization: Bearer <token>',
          });
        }
        if (!sameSecret(presented, session.csrf)) {
          throw bmfError('BMF_ERR_CSRF', { reason: "x-csrf-token is not this session's" });
        }
      }
      role = session.role;
    }
    if (unsafe && role === 'viewer' && !request.routeOptions.config?.readOnlyAllowed) {
      throw bmfError('BMF_ERR_READ_ONLY', {
        action: `${request.method} ${request.url.split('?')[0]}`,
      });
    }
    request.role = role;
  });
}
