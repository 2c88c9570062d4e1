import OpenAI from 'openai';
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';

/** The official client on an API's Responses façade, anonymous (the default tenant outside production). */
export function responsesClient(apiUrl: string): OpenAI {
  // `Authorization: null` drops the header the SDK would send with its placeholder key.
  return new OpenAI({
    baseURL: `${apiUrl}/v1`,
    apiKey: 'unused',
    maxRetries: 0,
    defaultHeaders: { Authorization: null },
  });
}

/**
 * Read a Responses stream into `into` until it ends or breaks (a killed API).
 * @returns the error that ended it, if one did
 */
export async function readResponseEvents(
  stream: AsyncIterable<ResponseStreamEvent>,
  into: ResponseStreamEvent[],
): Promise<unknown> {
  try {
    for await (const event of stream) into.push(event);
    return undefined;
  } catch (err) {
    return err;
  }
}

/** The text the client showed: every `output_text.delta` joined. */
export function shownText(events: ResponseStreamEvent[]): string {
  return events
    .filter((e) => e.type === 'response.output_text.delta')
    .map((e) => (e as { delta: string }).delta)
    .join('');
}

/** The run behind a `resp_<hex>` id. */
export function runIdOf(responseId: string): string {
  const h = responseId.replace(/^resp_/, '');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
