/**
 * Which impairment an endpoint runs, and the rules for FERRY_IMPAIR.
 *
 * Why rules: FERRY_IMPAIR switches impairment on for every endpoint of a process without a line of
 * code, which is what tests and benchmarks want and what a production server must never get by
 * accident (an exported variable left in a shell or a unit file). So impairment from FERRY_IMPAIR
 * prints a warning on stderr for every endpoint it impairs (whatever Node's warning settings), is
 * refused on a non-loopback bind (INSECURE_BIND), and shows in the endpoint's stats with its source.
 * Impairment asked for in code (the `impair` option) is the caller's explicit choice and is taken as
 * given.
 */
import type { Clock } from '../../core/clock.js';
import { isLoopbackHost } from '../../core/address.js';
import { FerryError } from '../../core/errors.js';
import { IMPAIR_ENV, Impairment, impairmentFromEnv, type ImpairmentConfig } from './impairment.js';

/** What an endpoint's `impair` option takes. */
export type ImpairOption = string | Partial<ImpairmentConfig> | Impairment | null | undefined;

/** Writes one line on stderr (replaced in tests). */
export type WarnFn = (line: string) => void;

const writeStderr: WarnFn = (line) => {
  process.stderr.write(line);
};

/**
 * The impairment for an endpoint bound to `host`: the option when given (null: none), else
 * FERRY_IMPAIR from `env`. Throws INSECURE_BIND when FERRY_IMPAIR would impair a non-loopback bind,
 * INVALID_CONFIG when the settings are bad; warns through `warn` whenever FERRY_IMPAIR is used.
 */
export function endpointImpairment(
  option: ImpairOption,
  host: string,
  clock: Clock,
  env: NodeJS.ProcessEnv = process.env,
  warn: WarnFn = writeStderr,
): Impairment | null {
  if (option === null) return null;
  if (option !== undefined) {
    const impairment = option instanceof Impairment ? option : new Impairment(option, clock);
    impairment.source = 'option';
    return impairment;
  }
  const spec = impairmentFromEnv(env);
  if (spec === null) return null;
  if (!isLoopbackHost(host)) {
    throw new FerryError(
      'INSECURE_BIND',
      `${IMPAIR_ENV}=${spec} would drop, delay or corrupt the datagrams of an endpoint on ${host}; it is for loopback tests and benchmarks only: unset ${IMPAIR_ENV}`,
    );
  }
  const impairment = new Impairment(spec, clock);
  impairment.source = IMPAIR_ENV;
  warn(
    `ferry: warning: ${IMPAIR_ENV}=${spec} is set: the endpoint on ${host} drops, delays or corrupts the datagrams it receives as told (seed ${impairment.stats().seed}); unset ${IMPAIR_ENV} unless this is a test or a benchmark\n`,
  );
  return impairment;
}
