import { ModelNotFoundError } from '../errors';
import type { ModelRouter } from '../providers/model-router';

/** What to do to serve more than the simulator; part of every "no such model" message. */
export const CONFIGURE_PROVIDER_HINT =
  'to serve provider models, configure an OpenAI-compatible provider: LLM_BASE_URL (and OPENAI_API_KEY if it needs one), with LLM_MODEL as the default model';

/**
 * The model a request runs on: `default` (or none) is the router's default;
 * anything else must be served. Checked before anything is stored.
 * @throws ModelNotFoundError (404 `model_not_found`) naming the available models.
 */
export function servedModel(models: ModelRouter, requested: string | undefined): string {
  const model = !requested || requested === 'default' ? models.defaultModel : requested;
  if (models.serves(model)) return model;
  throw modelNotFound(models, model);
}

/** The 404 for `model`, with the available models and how to get others. */
export function modelNotFound(
  models: ModelRouter,
  model: string,
  reason?: string,
): ModelNotFoundError {
  const available = models.listModels();
  return new ModelNotFoundError(
    `model "${model}" is not served here${reason ? ` (${reason})` : ''}; available models: ${available.join(', ')}; ${CONFIGURE_PROVIDER_HINT}`,
    { model, available },
  );
}
