import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startPlatform, type Platform } from '../helpers/platform';
import { appendToLog, cliLogEnv } from '../helpers/test-logs';
import { PROJECT_ROOT } from '../setup/stack-env';
import { makePdf, PDF_PAGES, TEXT_FILES, WORDS } from '../fixtures/files/make-fixtures';

const run = promisify(execFile);

/** `reverie ingest` and `reverie search` against a running API, as a user runs them. */
describe('reverie ingest / search', () => {
  let platform: Platform;
  let dir: string;

  beforeAll(async () => {
    platform = await startPlatform({ EMBEDDINGS_PROVIDER: 'local' });
    dir = await mkdtemp(path.join(os.tmpdir(), 'reverie-cli-'));
    await writeFile(path.join(dir, 'guide.md'), TEXT_FILES['guide.md'].body);
    await writeFile(path.join(dir, 'report.pdf'), await makePdf(PDF_PAGES));
    await writeFile(path.join(dir, 'empty.txt'), '');
  });
  afterAll(async () => {
    await platform?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const reverie = async (args: string[], apiKey = platform.apiKey) => {
    const logs = cliLogEnv(args[0]);
    const result = await run(
      process.execPath,
      [path.join(PROJECT_ROOT, 'bin', 'reverie.js'), ...args],
      {
        cwd: PROJECT_ROOT,
        env: { ...process.env, REVERIE_URL: platform.url, REVERIE_API_KEY: apiKey, ...logs },
      },
    ).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => ({
        code: e.code,
        stdout: e.stdout,
        stderr: e.stderr,
      }),
    );
    appendToLog(logs.LOG_FILE, result.stderr);
    return result;
  };

  it('uploads files with progress, reports failures, and finds them with search', async () => {
    // A tenant of its own: other test files upload the same fixtures.
    const key = await platform.newTenantKey();
    const ingest = await reverie(
      [
        'ingest',
        path.join(dir, 'guide.md'),
        path.join(dir, 'report.pdf'),
        path.join(dir, 'empty.txt'),
      ],
      key,
    );
    expect(ingest.code).toBe(1); // empty.txt failed
    expect(ingest.stdout).toMatch(/guide\.md .*100%\s+ready \(\d+ chunks\)/);
    expect(ingest.stdout).toMatch(/report\.pdf .*ready/);
    // API.md: an empty upload is refused up front (400), not ingested and failed.
    expect(ingest.stdout).toMatch(
      /empty\.txt .*failed: 400 invalid_request: the uploaded file is empty/,
    );
    expect(ingest.stdout).toMatch(/guide\.md .*embed/);

    const search = await reverie(['search', '--types', 'chunks', WORDS.pdf], key);
    expect(search.code).toBe(0);
    expect(search.stdout).toMatch(/1\. \[chunks\] report\.pdf, page 3/);
  });

  it('uses a development key when REVERIE_API_KEY is not set', async () => {
    const ingest = await reverie(['ingest', path.join(dir, 'guide.md')], '');
    expect(ingest.code).toBe(0);
    const search = await reverie(['search', WORDS.md], '');
    expect(search.code).toBe(0);
    expect(search.stdout).toContain('guide.md');
  });
});
