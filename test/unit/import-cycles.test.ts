import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import madge from 'madge';

/**
 * No import cycles in production code, and providers stay the bottom layer.
 * The same check as `npm run lint` (`madge --circular --extensions ts
 * --ts-config tsconfig.json src activities workflows`), here so that
 * `npm test` (what CI runs) enforces it. Type-only imports count: a cycle
 * through `import type` is still two modules that each need the other.
 */

const root = path.resolve(__dirname, '../..');
const PRODUCTION = ['src', 'activities', 'workflows'];

function graph(dirs: string[], baseDir = root) {
  return madge(
    dirs.map((d) => path.join(baseDir, d)),
    {
      baseDir,
      fileExtensions: ['ts'],
      tsConfig: path.join(root, 'tsconfig.json'),
      detectiveOptions: { ts: { skipTypeImports: false } },
    },
  );
}

describe('import graph', () => {
  let result: Awaited<ReturnType<typeof graph>>;
  beforeAll(async () => {
    result = await graph(PRODUCTION);
  }, 60_000);

  it('reads every file', () => {
    expect(Object.keys(result.obj()).length).toBeGreaterThan(100);
    expect(result.warnings().skipped).toEqual([]);
  });

  it('has no import cycles in src, activities or workflows', () => {
    // Listed as "a.ts > b.ts > …" so a failure names the cycle to break.
    expect(result.circular().map((cycle) => cycle.join(' > '))).toEqual([]);
  });

  it('keeps src/providers free of domain imports (memory, dreaming, suggestions)', () => {
    const upward = Object.entries(result.obj()).flatMap(([file, imports]) =>
      file.startsWith('src/providers/')
        ? imports
            .filter((i) => /^src\/(memory|dreaming|suggestions)\//.test(i))
            .map((i) => `${file} -> ${i}`)
        : [],
    );
    expect(upward).toEqual([]);
  });

  it('would catch a cycle, also one through a type-only import', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'reverie-cycle-'));
    try {
      await writeFile(
        path.join(dir, 'a.ts'),
        "import { b } from './b';\nexport const a = b + 1;\n",
      );
      await writeFile(
        path.join(dir, 'b.ts'),
        "import type { a } from './a';\nexport const b = 1;\nexport type A = typeof a;\n",
      );
      const probe = await graph(['.'], dir);
      expect(probe.circular()).toEqual([['a.ts', 'b.ts']]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
