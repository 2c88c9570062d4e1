import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { withDirLock } from '../../src/stack/dir-lock';

describe('withDirLock', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'reverie-lock-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('runs holders one at a time', async () => {
    const lock = path.join(dir, 'x.lock');
    const events: string[] = [];
    const holder = (name: string) =>
      withDirLock(lock, async () => {
        events.push(`${name}:in`);
        await new Promise((r) => setTimeout(r, 100));
        events.push(`${name}:out`);
      });
    await Promise.all([holder('a'), holder('b')]);
    expect(events).toHaveLength(4);
    expect(events[0].split(':')[0]).toBe(events[1].split(':')[0]);
  });

  it('takes over a lock left by a dead process', async () => {
    const lock = path.join(dir, 'x.lock');
    await mkdir(lock);
    // Pid 2^22 + 1 is above Linux's pid_max, so never alive.
    await writeFile(path.join(lock, 'owner'), `${2 ** 22 + 1}@${os.hostname()}`);
    await expect(withDirLock(lock, async () => 'ran', { timeoutMs: 2_000 })).resolves.toBe('ran');
  });

  it('gives up after the timeout while a live process holds it', async () => {
    const lock = path.join(dir, 'x.lock');
    await mkdir(lock);
    await writeFile(path.join(lock, 'owner'), `${process.pid}@${os.hostname()}`);
    const onWait = jest.fn();
    await expect(withDirLock(lock, async () => 'ran', { timeoutMs: 300, onWait })).rejects.toThrow(
      /timed out/,
    );
    expect(onWait).toHaveBeenCalledTimes(1);
  });
});
