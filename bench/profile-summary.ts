/**
 * Top cost centres of a `node --cpu-prof` profile, by function and by package:
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof bench/run.js --quick ttft
 *   node -r tsx/cjs bench/profile-summary.ts /tmp/prof/CPU.*.cpuprofile
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** `pg`, `@temporalio/worker`, `src/api`, `(native)`... */
function owner(url: string): string {
  if (!url) return '(native)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  if (url.startsWith('node:')) return url;
  const own = /\/main\/((?:src|bench|test|activities|workflows)\/[^/]+)/.exec(url);
  return own ? own[1] : url;
}

export function summarize(profile: CpuProfile, top = 15): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) =>
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)),
  );
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const fns = new Map<string, number>();
  const owners = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const where = url ? `${owner(url)}:${lineNumber + 1}` : '';
    const key = `${functionName || '(anonymous)'} ${where}`.trim();
    fns.set(key, (fns.get(key) ?? 0) + us);
    owners.set(owner(url), (owners.get(owner(url)) ?? 0) + us);
  }
  const list = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => `  ${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`)
      .join('\n');
  return `total ${(total / 1e6).toFixed(1)} s sampled\nby package (self time):\n${list(owners)}\nby function (self time):\n${list(fns)}\n`;
}

if (require.main === module) {
  for (const file of process.argv.slice(2)) {
    process.stdout.write(
      `${file}\n${summarize(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile)}`,
    );
  }
}
