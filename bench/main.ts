/**
 * `npm run bench [-- [--quick] [--strict] [scenario ...]]`: start the platform
 * in this process, run the chosen scenarios (all by default) against their
 * baselines, print the table and write `results/bench-<date>.{md,json}`.
 */
import path from 'node:path';
import { PROFILES, ROOT, progress, startBench, type Bench, type Row } from './harness';
import { machine, table, writeReport, type Report } from './report';
import { ingest } from './ingest';
import { footprint } from './scenarios/footprint';
import { health } from './scenarios/health';
import { auth } from './scenarios/auth';
import { throughput } from './scenarios/throughput';
import { ttft } from './scenarios/ttft';
import { turnCost as turncost } from './scenarios/turn-cost';
import { sse } from './scenarios/sse';
import { resume } from './scenarios/resume';
import { run as runDreaming } from './dreaming';
import { seedStoredWork } from './stored-work';
import { memoryScenario as memory } from './memory-search';

/** In run order: footprint last, since it reports memory after the others. */
const SCENARIOS: Record<string, (bench: Bench) => Promise<Row[]>> = {
  ttft,
  throughput,
  turncost,
  health,
  auth,
  ingest,
  memory,
  sse,
  resume,
  footprint,
  dreaming,
};

/** `dreaming` (bench/dreaming.ts) on the bench's stack, as report rows. */
async function dreaming(bench: Bench): Promise<Row[]> {
  const r = await runDreaming({ quick: bench.profile.name === 'quick', stack: bench.stack });
  const once = (v: number) => ({ min: v, median: v, max: v });
  const ok = r.status === 'succeeded';
  return [
    {
      scenario: 'dreaming',
      metric: `wall time, ${String(r.messages)} messages`,
      unit: 'ms',
      reverie: once(Number(r.wall_ms)),
      target: '≤ 10000 ms',
      pass: ok && Number(r.wall_ms) <= 10_000,
    },
    {
      scenario: 'dreaming',
      metric: 'model calls per 50 messages',
      unit: 'calls',
      reverie: once(Number(r.llm_calls_per_50_messages)),
      target: '≤ 1',
      pass: ok && Number(r.llm_calls_per_50_messages) <= 1,
    },
  ];
}

const USAGE = `usage: npm run bench -- [--quick] [--strict] [${Object.keys(SCENARIOS).join('|')} ...]
  --quick   small workloads, about 2-3 minutes
  --strict  exit 1 when a target is missed
  --no-save print the table only (the smoke at the end of npm test)
  --stored  first seed 100k finished turns, 3000 sessions, 2000 idle entities (bench/stored-work.ts)`;

export async function main(argv: string[]): Promise<number> {
  const flags = argv.filter((a) => a.startsWith('-'));
  const names = argv.filter((a) => !a.startsWith('-'));
  const unknown = [
    ...flags.filter((f) => !['--quick', '--strict', '--no-save', '--stored'].includes(f)),
    ...names.filter((n) => !(n in SCENARIOS)),
  ];
  if (unknown.length > 0 || flags.includes('--help')) {
    process.stderr.write(`${unknown.length ? `unknown: ${unknown.join(' ')}\n` : ''}${USAGE}\n`);
    return 2;
  }
  const selected = Object.keys(SCENARIOS).filter((n) => names.length === 0 || names.includes(n));
  const profile = PROFILES[flags.includes('--quick') ? 'quick' : 'full'];

  const started = Date.now();
  const bench = await startBench(profile);
  const rows: Row[] = [];
  try {
    if (flags.includes('--stored')) await seedStoredWork(bench);
    for (const name of selected) {
      const t0 = Date.now();
      progress(`${name}: running`);
      rows.push(...(await SCENARIOS[name](bench)));
      bench.completed.push(name);
      progress(`${name}: done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
  } finally {
    await bench.close();
  }

  const report: Report = {
    date: new Date().toISOString().slice(0, 10),
    command: ['npm run bench', ...(argv.length ? ['--', ...argv] : [])].join(' '),
    profile,
    machine: machine(),
    durationSeconds: (Date.now() - started) / 1000,
    rows,
  };
  process.stdout.write(`\n${table(rows)}\n\n`);
  if (flags.includes('--no-save')) {
    progress(`done (${report.durationSeconds.toFixed(0)} s), results not saved`);
  } else {
    const files = await writeReport(path.join(ROOT, 'results'), report);
    progress(
      `wrote ${files.map((f) => path.relative(ROOT, f)).join(', ')} (${report.durationSeconds.toFixed(0)} s)`,
    );
  }
  const missed = rows.filter((r) => r.pass === false);
  if (missed.length > 0)
    progress(`missed: ${missed.map((r) => `${r.scenario} ${r.metric}`).join('; ')}`);
  return flags.includes('--strict') && missed.length > 0 ? 1 : 0;
}
