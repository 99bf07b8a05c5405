// Ed25519 keys through node:crypto only. A key id is the lowercase hex sha256 of the 32-byte raw
// public key, so the id is derived from the key and cannot be chosen by whoever presents it.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';

export const ED25519_PUBLIC_HEX_PATTERN = '^[0-9a-f]{64}$';

export interface Signer {
  readonly keyid: string;
  readonly publicHex: string;
  /** Hex Ed25519 signature of the bytes. */
  sign(bytes: Uint8Array): string;
}

export function keyIdOf(publicHex: string): string {
  return createHash('sha256').update(Buffer.from(publicHex, 'hex')).digest('hex');
}

export function publicHexOf(key: KeyObject): string {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new Error('not an Ed25519 key');
  return Buffer.from(jwk.x, 'base64url').toString('hex');
}

function publicKeyFromHex(publicHex: string): KeyObject {
  const x = Buffer.from(publicHex, 'hex').toString('base64url');
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
}

export function createSigner(privateKey: KeyObject): Signer {
  const publicHex = publicHexOf(createPublicKey(privateKey));
  return {
    keyid: keyIdOf(publicHex),
    publicHex,
    sign: (bytes) => sign(null, bytes, privateKey).toString('hex'),
  };
}

export function generateSigner(): { signer: Signer; privatePem: string } {
  const { privateKey } = generateKeyPairSync('ed25519');
  const privatePem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  return { signer: createSigner(privateKey), privatePem };
}

export function signerFromPem(pem: string): Signer {
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error('not an Ed25519 private key');
  return createSigner(key);
}

/** False for any malformed key or signature: a verifier never throws on attacker input. */
export function verifySignature(publicHex: string, bytes: Uint8Array, sigHex: string): boolean {
  if (!/^[0-9a-f]{128}$/.test(sigHex)) return false;
  try {
    return verify(null, bytes, publicKeyFromHex(publicHex), Buffer.from(sigHex, 'hex'));
  } catch {
    return false;
  }
}
