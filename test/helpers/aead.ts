// Both AEAD paths (crypto/native-aead.ts): a parameterised crypto test runs once per entry. The native
// cases are skipped without the addon unless FERRY_REQUIRE_NATIVE=1: then they run and fail with the
// loader's reason, so CI cannot pass on the node:crypto fallback alone.
import { nativeAeadClass, type AeadKind } from '../../src/transport/crypto/native-aead.js';

export const AEAD_KINDS: readonly AeadKind[] = ['node', 'native'];

/** Whether the cases of `kind` run here; false means: register them as skipped. */
export function aeadRuns(kind: AeadKind): boolean {
  return kind === 'node' || nativeAeadClass().cls !== null || process.env.FERRY_REQUIRE_NATIVE === '1';
}
