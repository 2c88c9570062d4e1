import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

/** The official MCP client on an API's `/v1/mcp`, anonymous unless a key is given. */
export async function mcpClient(apiUrl: string, key?: string): Promise<Client> {
  const client = new Client({ name: 'reverie-test', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${apiUrl}/v1/mcp`), {
      requestInit: { headers: key ? { Authorization: `Bearer ${key}` } : {} },
    }),
  );
  return client;
}

/** The JSON a reverie tool answered with. */
export function toolJson<T>(result: unknown): T {
  return JSON.parse((result as { content: { text: string }[] }).content[0].text) as T;
}
