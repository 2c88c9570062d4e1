import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import Koa from 'koa';
import type { ApiDeps, ApiState } from './context';
import { authenticate } from './middleware/auth';
import { cors } from './middleware/cors';
import { errorHandler } from './middleware/error-handler';
import { rateLimit } from './middleware/rate-limit';
import { requestId } from './middleware/request-id';
import { securityHeaders } from './middleware/security-headers';
import { adminApiKeysRouter } from './routes/admin-api-keys';
import { adminRateLimitRouter } from './routes/admin-rate-limit';
import { adminTenantsRouter } from './routes/admin-tenants';
import { apAssistantsRouter, apThreadsRouter } from './routes/ap-threads';
import { apRunsRouter } from './routes/ap-runs';
import { chatCompletionsRouter } from './routes/chat-completions';
import { conversationsRouter } from './routes/conversations';
import { contextRouter } from './routes/context';
import { devRouter } from './routes/dev';
import { dreamingRouter } from './routes/dreaming';
import { feedbackRouter } from './routes/feedback';
import { filesRouter, skipBodyParserForUploads } from './routes/files';
import { healthRouter, liveness } from './routes/health';
import { mcpRouter } from './routes/mcp';
import { memoriesRouter } from './routes/memories';
import { modelsRouter } from './routes/models';
import { openapiRouter } from './routes/openapi';
import { responsesRouter } from './routes/responses';
import { runsRouter } from './routes/runs';
import { searchRouter } from './routes/search';
import { sessionsRouter } from './routes/sessions';
import { usersRouter } from './routes/users';

/**
 * Every router mounted under `/v1` behind authentication, in mount order; the
 * route walk tests and the OpenAPI document enumerate exactly these.
 */
export function v1Routers(deps: ApiDeps): Router<ApiState>[] {
  return [
    modelsRouter(deps),
    chatCompletionsRouter(deps),
    responsesRouter(deps),
    conversationsRouter(deps),
    mcpRouter(deps),
    sessionsRouter(deps),
    contextRouter(deps),
    memoriesRouter(deps),
    runsRouter(deps),
    feedbackRouter(deps),
    dreamingRouter(deps),
    usersRouter(deps),
    filesRouter(deps),
    searchRouter(deps),
    adminApiKeysRouter(deps),
    adminTenantsRouter(deps),
    adminRateLimitRouter(deps),
  ];
}

/** The Agent Protocol (LangGraph) façade, served under `/ap` (its routers carry the prefix). */
export function apRouters(deps: ApiDeps): Router<ApiState>[] {
  return [apAssistantsRouter(), apThreadsRouter(deps), apRunsRouter(deps)];
}

/** The Koa app: every route under `/v1` and, for remdb-style clients, `/api/v1`. */
export function createApp(deps: ApiDeps): Koa<ApiState> {
  const app = new Koa<ApiState>({ proxy: false });
  app.on('error', (err: Error, ctx?: { state?: Partial<ApiState> }) => {
    (ctx?.state?.log ?? deps.log).error({ err }, 'request failed');
  });

  const health = healthRouter(deps);
  const v1 = new Router<ApiState>();
  const dev = devRouter(deps);
  const routers = v1Routers(deps);
  const agentProtocol = apRouters(deps);
  const openapi = openapiRouter([dev, ...routers], [health, ...agentProtocol]);
  v1.use(dev.routes());
  v1.use(openapi.routes());
  v1.use(authenticate(deps.auth));
  v1.use(rateLimit(deps.limits));
  for (const router of routers) {
    v1.use(router.routes(), router.allowedMethods());
  }
  const root = new Router<ApiState>();
  root.use(health.routes());
  root.use('/v1', v1.routes(), v1.allowedMethods());
  root.use('/api/v1', v1.routes(), v1.allowedMethods());
  const ap = new Router<ApiState>();
  ap.use(authenticate(deps.auth));
  ap.use(rateLimit(deps.limits));
  for (const router of agentProtocol) ap.use(router.routes(), router.allowedMethods());
  root.use(ap.routes(), ap.allowedMethods());

  app.use(securityHeaders());
  app.use(cors(deps.config.security.corsOrigins));
  app.use(liveness());
  app.use(requestId(deps.log));
  app.use(errorHandler(deps.config.maxBodyBytes));
  app.use(deps.metrics.middleware());
  app.use(skipBodyParserForUploads());
  app.use(
    bodyParser({
      enableTypes: ['json'],
      jsonLimit: deps.config.maxBodyBytes,
      encoding: 'utf-8',
      onError(err) {
        throw err;
      },
    }),
  );
  app.use(root.routes());
  app.use(root.allowedMethods());
  return app;
}
