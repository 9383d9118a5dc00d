/**
 * Which AES-256-GCM implementation seals packets and frames: the native addon's `Aead` context
 * (native/aead.c: one OpenSSL context per direction, key schedule once, no JavaScript allocation per
 * call) or node:crypto (a Cipher object per packet). Chosen once per process: native when the addon
 * loaded and has `Aead`, node:crypto otherwise.
 *
 * Why a choice at all: the addon is optional (it may fail to build), and ferry must keep working
 * without it. `FERRY_AEAD=native|node` forces one (tests run both); `FERRY_REQUIRE_NATIVE=1` (as
 * `npm test` sets) makes a missing native AEAD an error instead of a quiet fallback.
 */
import { ferryError } from '../../core/errors.js';
import { nativeUdpAddon, nativeUdpStatus } from '../native/addon.js';

export type AeadKind = 'native' | 'node';

/** The addon's AEAD context of one direction (see native/aead.c for the exact contract). */
export interface RawAead {
  /** Seals `buf[aadBytes, length)` + slices in place after the AAD `buf[0, aadBytes)`, tag after; the sealed length. */
  seal(
    buf: Uint8Array,
    aadBytes: number,
    length: number,
    slices: readonly Uint8Array[] | undefined,
    sliceCount: number,
    pn: number,
  ): number;
  /** Authenticates then decrypts `buf` in place (AAD, ciphertext, tag); false leaves `buf` unchanged. */
  open(buf: Uint8Array, aadBytes: number, pn: number): boolean;
  /** Seals slices into `out` (ciphertext then tag) under the AAD `aad`; the bytes written. */
  sealTo(
    aad: Uint8Array,
    out: Uint8Array,
    slices: readonly Uint8Array[],
    sliceCount: number,
    pn: number,
  ): number;
  /** Authenticates then decrypts `body` (ciphertext + tag) in place under `aad`; false leaves it unchanged. */
  openIn(aad: Uint8Array, body: Uint8Array, pn: number): boolean;
}

export type RawAeadConstructor = new (key: Uint8Array, ivBase: Uint8Array, encrypt: boolean) => RawAead;

/** The addon's Aead class, or null with the reason it is missing. */
export function nativeAeadClass(): { cls: RawAeadConstructor | null; reason?: string } {
  const addon = nativeUdpAddon() as { Aead?: unknown } | null;
  if (!addon) return { cls: null, reason: nativeUdpStatus().reason ?? 'the native addon did not load' };
  if (typeof addon.Aead !== 'function')
    return {
      cls: null,
      reason: 'the native addon has no Aead (an old build; run: node scripts/build-native.js)',
    };
  return { cls: addon.Aead as RawAeadConstructor };
}

/**
 * The AEAD to use: `FERRY_AEAD` when set, else native when available. Asking for native (by
 * FERRY_AEAD=native or FERRY_REQUIRE_NATIVE=1) where it is missing is a NOT_SUPPORTED error.
 */
export function selectAeadKind(
  env: NodeJS.ProcessEnv = process.env,
  available: () => { cls: RawAeadConstructor | null; reason?: string } = nativeAeadClass,
): AeadKind {
  const asked = env.FERRY_AEAD;
  if (asked === 'node') return 'node';
  if (asked !== undefined && asked !== '' && asked !== 'native')
    throw ferryError('INVALID_CONFIG', `FERRY_AEAD must be 'native' or 'node', got '${asked}'`);
  const native = available();
  if (native.cls) return 'native';
  if (asked === 'native' || env.FERRY_REQUIRE_NATIVE === '1')
    throw ferryError(
      'NOT_SUPPORTED',
      `${asked === 'native' ? 'FERRY_AEAD=native' : 'FERRY_REQUIRE_NATIVE=1'} but the native AEAD is not available: ${native.reason ?? 'unknown'}; build it (node scripts/build-native.js) or set FERRY_AEAD=node`,
    );
  return 'node';
}

let chosen: AeadKind | null = null;

/** The process's AEAD implementation, chosen on first use (shown in endpoint stats as `aead`). */
export function aeadKind(): AeadKind {
  chosen ??= selectAeadKind();
  return chosen;
}

/** A native context for one direction when `kind` is native, else null (the node:crypto path). */
export function rawAead(kind: AeadKind, key: Buffer, ivBase: Buffer, encrypt: boolean): RawAead | null {
  if (kind === 'node') return null;
  const { cls, reason } = nativeAeadClass();
  if (!cls) throw ferryError('NOT_SUPPORTED', `the native AEAD is not available: ${reason ?? 'unknown'}`);
  return new cls(key, ivBase, encrypt);
}
