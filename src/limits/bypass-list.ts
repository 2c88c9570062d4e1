import { BlockList, isIP } from 'node:net';
import { listBypass } from '../db/rate-limit-bypass';
import type { Queryable } from '../db/pool';

interface Loaded {
  keys: Set<string>;
  ips: Set<string>;
  cidrs: BlockList;
}

/**
 * The rate-limit bypass list (key ids, IPs, CIDRs), loaded once per process
 * and reloaded after a `bypass` security notice (every change notifies).
 */
export class BypassList {
  private loaded: Promise<Loaded> | undefined;

  constructor(private readonly db: Queryable) {}

  /** Whether requests of this key id or from this IP skip rate limits. */
  async matches(keyId: string | null, ip: string): Promise<boolean> {
    const list = await this.load();
    if (keyId && list.keys.has(keyId)) return true;
    const address = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    return list.ips.has(address) || (isIP(address) !== 0 && list.cidrs.check(address, family));
  }

  invalidate(): void {
    this.loaded = undefined;
  }

  private load(): Promise<Loaded> {
    this.loaded ??= listBypass(this.db).then((rows) => {
      const out: Loaded = { keys: new Set(), ips: new Set(), cidrs: new BlockList() };
      for (const row of rows) {
        if (row.type === 'key') out.keys.add(row.value);
        else if (row.type === 'ip') out.ips.add(row.value);
        else {
          const [net, bits] = row.value.split('/');
          out.cidrs.addSubnet(net, Number(bits), isIP(net) === 6 ? 'ipv6' : 'ipv4');
        }
      }
      return out;
    });
    this.loaded.catch(() => (this.loaded = undefined));
    return this.loaded;
  }
}
