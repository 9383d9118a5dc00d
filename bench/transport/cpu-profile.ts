/**
 * Where the time goes: a summary of a `node --cpu-prof` profile by self time per function, so
 * `ferry bench transport --cpu-prof-dir DIR` can print what to optimise without opening DevTools.
 * Self time of a sample is its time delta; samples are attributed to the function on top of the
 * stack, grouped by name and source location.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  fn: string;
  where: string;
  selfMs: number;
  share: number;
}

/** Functions of one profile by self time, largest first. */
export function summarizeProfile(
  profile: CpuProfile,
  top: number,
): { totalMs: number; functions: SelfTime[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<string, { fn: string; where: string; us: number }>();
  let totalUs = 0;
  profile.samples.forEach((id, i) => {
    const us = Math.max(0, profile.timeDeltas[i] ?? 0);
    const frame = byId.get(id)?.callFrame;
    if (!frame) return;
    totalUs += us;
    const fn = frame.functionName || '(anonymous)';
    const where = frame.url ? `${shortUrl(frame.url)}:${frame.lineNumber + 1}` : '';
    const key = `${fn}@${where}`;
    const entry = selfUs.get(key) ?? { fn, where, us: 0 };
    entry.us += us;
    selfUs.set(key, entry);
  });
  const functions = [...selfUs.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((e) => ({ fn: e.fn, where: e.where, selfMs: e.us / 1000, share: totalUs > 0 ? e.us / totalUs : 0 }));
  return { totalMs: totalUs / 1000, functions };
}

/** Text summaries of every `.cpuprofile` in `dir`. */
export async function summarizeProfileDir(dir: string, top: number): Promise<string> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile')).sort();
  const out: string[] = [];
  for (const f of files) {
    const profile = JSON.parse(await readFile(path.join(dir, f), 'utf8')) as CpuProfile;
    const s = summarizeProfile(profile, top);
    out.push(`${f}: ${(s.totalMs / 1000).toFixed(2)} s sampled; top ${top} by self time`);
    for (const fn of s.functions) {
      out.push(
        `  ${(fn.share * 100).toFixed(1).padStart(5)} %  ${fn.selfMs.toFixed(0).padStart(7)} ms  ${fn.fn}  ${fn.where}`,
      );
    }
  }
  return out.join('\n') + '\n';
}

/** Repository-relative paths where possible (`src/transport/session.ts`), node internals as they are. */
function shortUrl(url: string): string {
  const m = /\/(src|bench|cli|node_modules)\/.*$/.exec(url);
  return m ? m[0].slice(1) : url.replace(/^file:\/\//, '');
}
