import { parseArgs } from 'node:util';
import type { Config } from '../config';
import { connectApi, describeError, type ApiClient } from './api-client';

const USAGE = `usage: reverie keys create --tenant ID --name NAME [--scopes chat,files,...] [--expires ISO-8601]
       reverie keys list [--tenant ID] [--json]
       reverie keys revoke KEY_ID

Manages API keys through the HTTP API (REVERIE_URL), authenticated with
ADMIN_TOKEN when set, else REVERIE_API_KEY (a key with the admin scope).
The created key is printed once; only its hash is stored.
`;

/**
 * `reverie keys create|list|revoke`; resolves to the exit code. Talks to the
 * HTTP API rather than the database so revocation goes through the one path
 * that notifies every replica, and so it works without database credentials.
 */
export async function runKeys(argv: string[], config: Config): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      tenant: { type: 'string' },
      name: { type: 'string' },
      scopes: { type: 'string' },
      expires: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  const action = positionals[0];
  if (values.help || !['create', 'list', 'revoke'].includes(action ?? '')) {
    process.stdout.write(USAGE);
    return values.help ? 0 : 2;
  }
  const client = await adminClient(config);
  if (action === 'create') {
    if (!values.tenant || !values.name) {
      process.stderr.write('reverie keys create: give --tenant and --name\n');
      return 2;
    }
    const scopes = (values.scopes ?? 'chat,files,memories,dreaming')
      .split(',')
      .map((s) => s.trim());
    const body = {
      tenant_id: values.tenant,
      name: values.name,
      scopes,
      expires_at: values.expires,
    };
    return call(client, 'POST', '/v1/admin/api-keys', body, (k: { id: string; key: string }) =>
      values.json ? JSON.stringify(k) : `${k.key}\n(id ${k.id}; shown once, store it now)`,
    );
  }
  if (action === 'list') {
    const query = values.tenant
      ? `?tenant_id=${encodeURIComponent(values.tenant)}&limit=100`
      : '?limit=100';
    return call(
      client,
      'GET',
      `/v1/admin/api-keys${query}`,
      undefined,
      (page: { data: KeyLine[] }) =>
        values.json ? JSON.stringify(page.data) : page.data.map(keyLine).join('\n') || 'no keys',
    );
  }
  const id = positionals[1];
  if (!id) {
    process.stderr.write('reverie keys revoke: give the key id\n');
    return 2;
  }
  return call(
    client,
    'DELETE',
    `/v1/admin/api-keys/${encodeURIComponent(id)}`,
    undefined,
    () => `revoked ${id}`,
  );
}

interface KeyLine {
  id: string;
  prefix: string;
  name: string;
  scopes: string[];
  tenant_id: string;
  revoked_at: string | null;
  expires_at: string | null;
  last_used_at: string | null;
}

function keyLine(k: KeyLine): string {
  const state = k.revoked_at
    ? 'revoked'
    : k.expires_at && Date.parse(k.expires_at) < Date.now()
      ? 'expired'
      : 'active';
  return [
    k.id,
    `rv_${k.prefix}_…`,
    k.name,
    k.scopes.join(','),
    state,
    k.last_used_at ?? 'never used',
  ].join('\t');
}

async function adminClient(config: Config): Promise<ApiClient> {
  if (!config.security.adminToken) return connectApi(config);
  return {
    url: config.client.url.replace(/\/+$/, ''),
    headers: { Authorization: `Bearer ${config.security.adminToken}` },
  };
}

async function call<T>(
  client: ApiClient,
  method: string,
  path: string,
  body: unknown,
  render: (value: T) => string,
): Promise<number> {
  const res = await fetch(`${client.url}${path}`, {
    method,
    headers: { ...client.headers, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) {
    process.stderr.write(`reverie keys: ${await describeError(res)}\n`);
    return 1;
  }
  process.stdout.write(`${render((await res.json()) as T)}\n`);
  return 0;
}
