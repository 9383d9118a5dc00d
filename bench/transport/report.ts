/**
 * The JSON report of `ferry bench transport` (schema `ferry.bench.transport/1`, documented in
 * docs/benchmarks.md).
 *
 * Why its own file: the runner (index.ts) builds the report and the text renderer (render.ts) reads
 * it; with the shape declared here, neither imports the other.
 */
import type { ImplName } from './links/link.js';
import type { TransportBenchOptions } from './options.js';
import type { RunResult } from './results.js';
import type { TargetCheck } from './targets.js';

export const REPORT_SCHEMA = 'ferry.bench.transport/1';

export interface TransportBenchReport {
  schema: typeof REPORT_SCHEMA;
  started_at: string;
  finished_at: string;
  host: { node: string; platform: string; cpus: number; cpu_model: string };
  options: TransportBenchOptions;
  /** Implementations that could not run at all, with the reason. */
  unavailable: Partial<Record<ImplName, string>>;
  interrupted: boolean;
  runs: RunResult[];
  targets: TargetCheck[];
}
