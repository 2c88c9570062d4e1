import { initdbArgs, postgresArgs } from '../../src/stack/postgres';
import { runAsCommand } from '../../src/stack/run-as';
import { searchAttributeFlags } from '../../src/stack/search-attributes';
import { watchdogArgs } from '../../src/stack/supervised-process';
import { temporalDevServerArgs } from '../../src/stack/temporal';
import { instanceName, isStaleTestFile } from '../../src/stack/test-instances';

describe('temporalDevServerArgs', () => {
  it('runs a persistent dev server with the UI', () => {
    const args = temporalDevServerArgs({
      port: 7233,
      uiPort: 8233,
      dbFilename: '/p/.reverie/temporal-dev.db',
    });
    expect(args.slice(0, 6)).toEqual([
      'server',
      'start-dev',
      '--ip',
      '127.0.0.1',
      '--port',
      '7233',
    ]);
    expect(args).toEqual(
      expect.arrayContaining(['--ui-port', '8233', '--db-filename', '/p/.reverie/temporal-dev.db']),
    );
    expect(args).not.toContain('--headless');
    expect(args.join(' ')).toContain('--log-level error');
  });

  it('runs a headless in-memory server for tests', () => {
    const args = temporalDevServerArgs({ port: 40000 });
    expect(args).toContain('--headless');
    expect(args).not.toContain('--db-filename');
    expect(args).not.toContain('--ui-port');
  });

  it('registers every reverie search attribute as Keyword', () => {
    const joined = temporalDevServerArgs({ port: 1 }).join(' ');
    for (const name of ['TenantId', 'UserId', 'SessionId', 'RunKind']) {
      expect(joined).toContain(`--search-attribute ${name}=Keyword`);
    }
    expect(searchAttributeFlags()).toHaveLength(8);
  });
});

describe('postgres arguments', () => {
  it('binds to localhost with a short socket dir, durable for dev', () => {
    const args = postgresArgs({ dataDir: '/d', port: 5555, socketDir: '/tmp/s', durable: true });
    expect(args).toEqual(['-D', '/d', '-p', '5555', '-h', '127.0.0.1', '-k', '/tmp/s']);
  });

  it('turns off fsync for throwaway test instances', () => {
    const args = postgresArgs({
      dataDir: '/d',
      port: 5555,
      socketDir: '/tmp/s',
      durable: false,
    }).join(' ');
    expect(args).toContain('-c fsync=off');
    expect(args).toContain('-c synchronous_commit=off');
  });

  it('initialises with the postgres superuser and trust auth', () => {
    expect(initdbArgs('/d')).toEqual(
      expect.arrayContaining(['-D', '/d', '-U', 'postgres', '--auth=trust']),
    );
  });
});

describe('runAsCommand', () => {
  it('leaves the command alone when no user is needed', () => {
    expect(runAsCommand(undefined, '/bin/postgres', ['-D', 'x'])).toEqual({
      command: '/bin/postgres',
      args: ['-D', 'x'],
    });
  });

  it('drops to the given uid/gid with setpriv, clearing groups', () => {
    const cmd = runAsCommand({ user: 'nobody', uid: 65534, gid: 65534 }, '/bin/postgres', [
      '-D',
      'x',
    ]);
    expect(cmd).toEqual({
      command: 'setpriv',
      args: ['--reuid=65534', '--regid=65534', '--clear-groups', '--', '/bin/postgres', '-D', 'x'],
    });
  });
});

describe('watchdogArgs', () => {
  it('passes parent pid, signal name and grace seconds before the command', () => {
    const args = watchdogArgs(123, 'SIGINT', 15_000, '/bin/postgres', ['-D', 'x']);
    expect(args[0]).toBe('-c');
    expect(args.slice(2)).toEqual([
      'reverie-watchdog',
      '123',
      'INT',
      '15',
      '/bin/postgres',
      '-D',
      'x',
    ]);
  });

  it('never uses a zero grace period', () => {
    expect(watchdogArgs(1, 'SIGTERM', 0, 'x', [])[5]).toBe('1');
  });
});

describe('test instances', () => {
  it('names dev and per-process test instances', () => {
    expect(instanceName('dev')).toBe('dev');
    expect(instanceName('test', 42)).toBe('test-42');
  });

  it('treats files of dead test processes as stale, and nothing else', () => {
    const alive = (pid: number): boolean => pid === 1;
    expect(isStaleTestFile('test-7', alive)).toBe(true);
    expect(isStaleTestFile('postgres-test-7.log', alive)).toBe(true);
    expect(isStaleTestFile('temporal-test-7.log', alive)).toBe(true);
    expect(isStaleTestFile('test-7.initdb-9', alive)).toBe(true);
    expect(isStaleTestFile('test-1', alive)).toBe(false);
    expect(isStaleTestFile('dev', alive)).toBe(false);
    expect(isStaleTestFile('postgres-dev.log', alive)).toBe(false);
  });
});
