import OpenAI from 'openai';
import type { Config } from '../config';
import { createSimulatorFetch, SIMULATOR_MODEL_ID, type ScriptedResponder } from './simulator';

/** One place a model can be served from. */
export interface ModelTarget {
  provider: string;
  model: string;
  client: OpenAI;
  timeoutMs: number;
}

/**
 * Maps a requested model to its provider chain: the primary endpoint first, then
 * the configured fallbacks. `simulator` is always served in-process; with no
 * endpoint configured it is the only model served (see {@link ModelRouter.serves}).
 *
 * `scriptedResponders` are the simulator's canned answers to the domain's
 * structured calls (memory, dreaming, suggestions); the composition root
 * passes them in because providers know no domain folder.
 */
export class ModelRouter {
  private readonly simulator: ModelTarget;
  private readonly primary: OpenAI | undefined;
  private readonly fallbackClients = new Map<string, OpenAI>();

  constructor(
    private readonly config: Config,
    scriptedResponders: readonly ScriptedResponder[],
  ) {
    this.simulator = {
      provider: 'simulator',
      model: SIMULATOR_MODEL_ID,
      client: new OpenAI({
        apiKey: 'simulator',
        baseURL: 'http://simulator.local/v1',
        fetch: createSimulatorFetch({
          tokenDelayMs: config.llm.simulatorTokenDelayMs,
          responders: scriptedResponders,
        }),
        maxRetries: 0,
      }),
      timeoutMs: config.llm.timeoutMs,
    };
    if (config.llm.configured) {
      this.primary = this.client(config.llm.baseURL);
      for (const fb of config.llm.fallbacks) {
        if (fb.baseURL && !this.fallbackClients.has(fb.baseURL)) {
          this.fallbackClients.set(fb.baseURL, this.client(fb.baseURL));
        }
      }
    }
  }

  private client(baseURL: string | undefined): OpenAI {
    // Retries are ours (failover, then Temporal's activity retry), never the SDK's.
    return new OpenAI({
      apiKey: this.config.llm.apiKey ?? 'not-needed',
      baseURL,
      maxRetries: 0,
      timeout: this.config.llm.timeoutMs,
    });
  }

  /** Model ids for `GET /v1/models`. */
  listModels(): string[] {
    const ids = [SIMULATOR_MODEL_ID];
    if (this.primary)
      ids.push(this.config.llm.model, ...this.config.llm.fallbacks.map((f) => f.model));
    return [...new Set(ids)];
  }

  /**
   * Whether a request for `model` can be served. With a provider configured
   * every model goes to it (the provider alone knows its catalogue, and its
   * 404 becomes `model_not_found`); without one only the simulator is served.
   */
  serves(model: string): boolean {
    return model === SIMULATOR_MODEL_ID || this.primary !== undefined;
  }

  /** The model used when a request names none (or names `default`). */
  get defaultModel(): string {
    return this.primary ? this.config.llm.model : SIMULATOR_MODEL_ID;
  }

  /** Providers to try, in order, for `model`. */
  chainFor(model: string): ModelTarget[] {
    if (model === SIMULATOR_MODEL_ID || !this.primary) return [this.simulator];
    const timeoutMs = this.config.llm.timeoutMs;
    const chain: ModelTarget[] = [{ provider: 'primary', model, client: this.primary, timeoutMs }];
    this.config.llm.fallbacks.forEach((fb, i) => {
      const client = fb.baseURL ? this.fallbackClients.get(fb.baseURL)! : this.primary!;
      chain.push({ provider: `fallback-${i + 1}`, model: fb.model, client, timeoutMs });
    });
    return chain;
  }
}
