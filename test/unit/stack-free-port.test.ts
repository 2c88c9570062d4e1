import net from 'node:net';
import { findFreePort, isPortFree, pickPort } from '../../src/stack/free-port';

function occupy(port = 0): Promise<net.Server> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen({ port, host: '127.0.0.1' }, () => resolve(server));
  });
}

describe('free ports', () => {
  it('finds a port that can be bound', async () => {
    const port = await findFreePort();
    expect(port).toBeGreaterThan(0);
    expect(await isPortFree(port)).toBe(true);
  });

  it('reports a bound port as taken', async () => {
    const server = await occupy();
    const { port } = server.address() as net.AddressInfo;
    try {
      expect(await isPortFree(port)).toBe(false);
    } finally {
      server.close();
    }
  });

  it('prefers the given port when free, else picks another', async () => {
    const free = await findFreePort();
    expect(await pickPort(free)).toBe(free);

    const server = await occupy();
    const { port: taken } = server.address() as net.AddressInfo;
    try {
      const picked = await pickPort(taken);
      expect(picked).not.toBe(taken);
      expect(await isPortFree(picked)).toBe(true);
    } finally {
      server.close();
    }
  });

  it('picks any free port without a preference', async () => {
    expect(await pickPort(undefined)).toBeGreaterThan(0);
  });
});
