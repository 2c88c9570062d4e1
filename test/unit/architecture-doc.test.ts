import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createActivities, type ActivityDeps } from '../../activities';
import * as workflows from '../../workflows';

/** docs/architecture.md names the workflows and activities the worker really registers. */

const doc = readFileSync(path.join(__dirname, '..', '..', 'docs', 'architecture.md'), 'utf8');

/** The rows of the first table under heading `## <title>`, as cells. */
function tableRows(title: string): string[][] {
  const start = doc.indexOf(`## ${title}`);
  expect(start).toBeGreaterThanOrEqual(0);
  const rest = doc.slice(start + title.length + 3);
  const section = rest.slice(0, rest.search(/^## /m) === -1 ? undefined : rest.search(/^## /m));
  return section
    .split('\n')
    .filter((line) => line.startsWith('|') && !/^\|\s*-/.test(line))
    .slice(1) // header
    .map((line) =>
      line
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );
}

const names = (cell: string) => [...cell.matchAll(/`([A-Za-z]+)`/g)].map((m) => m[1]);

describe('docs/architecture.md', () => {
  it('lists every activity of createActivities by its registered name, and no other', () => {
    // The factories only capture their dependencies; nothing runs until an activity is called.
    const registered = Object.keys(createActivities({} as ActivityDeps)).sort();
    const documented = tableRows('Activities (`activities/`)')
      .flatMap((row) => names(row[1]))
      .sort();
    expect(documented).toEqual(registered);
  });

  it('lists every workflow of workflows/index.ts, and no other', () => {
    const documented = tableRows('Workflows (`workflows/`)')
      .flatMap((row) => names(row[0]))
      .sort();
    expect(documented).toEqual(Object.keys(workflows).sort());
  });
});
