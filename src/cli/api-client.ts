import type { Config } from '../config';

/** The API as the `reverie` client commands see it: base URL and a bearer key. */
export interface ApiClient {
  url: string;
  headers: Record<string, string>;
}

/**
 * Connect to REVERIE_URL with REVERIE_API_KEY, or, when no key is set, a
 * development key from `GET /v1/dev/token` (development servers only).
 * @throws Error saying what to set when neither works.
 */
export async function connectApi(config: Config): Promise<ApiClient> {
  const url = config.client.url.replace(/\/+$/, '');
  let key = config.client.apiKey;
  if (!key) {
    let res: Response;
    try {
      res = await fetch(`${url}/v1/dev/token`);
    } catch (err) {
      throw new Error(
        `cannot reach reverie at ${url} (${(err as Error).message}); start it with \`reverie dev\` or set REVERIE_URL`,
      );
    }
    if (!res.ok)
      throw new Error(`no API key: set REVERIE_API_KEY (GET /v1/dev/token answered ${res.status})`);
    key = ((await res.json()) as { key: string }).key;
  }
  return { url, headers: { Authorization: `Bearer ${key}` } };
}

/** The error message of an API error response, or its status line. */
export async function describeError(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: { message?: string; code?: string } };
    if (body.error?.message)
      return `${res.status} ${body.error.code ?? ''}: ${body.error.message}`.replace(' :', ':');
  } catch {
    // not JSON
  }
  return `${res.status} ${res.statusText}`;
}
