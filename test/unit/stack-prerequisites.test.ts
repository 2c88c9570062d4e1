import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  describePrerequisiteProblem,
  MIN_FREE_BYTES,
  StackPrerequisiteError,
  type PrerequisiteFacts,
} from '../../src/stack/prerequisites';
import { provisionTools } from '../../src/stack/provision';

const healthy: PrerequisiteFacts = {
  python: { status: 'ok', version: '3.11' },
  freeBytes: 10 * 1024 ** 3,
};

function expectOneSentence(message: string | undefined): void {
  expect(message).toBeDefined();
  expect(message).toMatch(/or run the stack with docker-compose up \(see README\)\.$/);
  // One sentence: a single full stop, at the end.
  expect(message!.replace(/\d\.\d/g, '').match(/\.(\s|$)/g)).toHaveLength(1);
}

describe('describePrerequisiteProblem', () => {
  it('accepts a machine with python3, venv and disk space', () => {
    expect(describePrerequisiteProblem(healthy)).toBeUndefined();
  });

  it('names a missing python3', () => {
    const message = describePrerequisiteProblem({ ...healthy, python: { status: 'missing' } });
    expectOneSentence(message);
    expect(message).toContain('python3');
  });

  it('names the missing venv module and how to get it', () => {
    const message = describePrerequisiteProblem({ ...healthy, python: { status: 'no-venv' } });
    expectOneSentence(message);
    expect(message).toContain('python3-venv');
  });

  it('rejects a python older than 3.9', () => {
    const message = describePrerequisiteProblem({
      ...healthy,
      python: { status: 'ok', version: '3.8' },
    });
    expectOneSentence(message);
    expect(message).toContain('3.8');
  });

  it('names missing disk space with what is free', () => {
    const message = describePrerequisiteProblem({ ...healthy, freeBytes: 0.4 * 1024 ** 3 });
    expectOneSentence(message);
    expect(message).toContain('0.4 GB');
    expect(describePrerequisiteProblem({ ...healthy, freeBytes: MIN_FREE_BYTES })).toBeUndefined();
  });
});

describe('provisionTools prerequisites', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'reverie-prereq-'));
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it('fails with StackPrerequisiteError before installing anything when python3 is missing', async () => {
    const lines: string[] = [];
    const attempt = provisionTools(root, {
      python: '/nonexistent/python3',
      log: (l) => lines.push(l),
    });
    await expect(attempt).rejects.toBeInstanceOf(StackPrerequisiteError);
    await expect(attempt).rejects.toThrow(/needs python3/);
    expect(lines).toEqual([]);
  });
});
