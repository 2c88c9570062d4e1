import Router from '@koa/router';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { JSONRPCMessageSchema } from '@modelcontextprotocol/sdk/types.js';
import { AppError, InvalidRequestError } from '../../errors';
import type { ApiContext, ApiDeps, ApiState } from '../context';
import { callerUserId } from '../identity';
import { buildMcpServer } from '../mcp/reverie-mcp';
import { route } from '../route-spec';
import { requestBody } from '../validation';

/**
 * `/mcp`: the Model Context Protocol over streamable HTTP, stateless (a server
 * per request, the key in `Authorization`), so any API replica answers any call.
 */
export function mcpRouter(deps: ApiDeps): Router<ApiState> {
  const router = new Router<ApiState>();

  route(
    router,
    { method: 'post', path: '/mcp', scope: 'chat', summary: 'Model Context Protocol (JSON-RPC)' },
    async (ctx: ApiContext) => {
      // Refused here, in the contract's shape, before the transport sees it.
      const accept = ctx.get('Accept');
      if (!accept.includes('application/json') || !accept.includes('text/event-stream'))
        throw new AppError(
          406,
          'not_acceptable',
          'Accept must list application/json and text/event-stream',
        );
      const body = requestBody(ctx);
      const messages = Array.isArray(body) ? body : [body];
      if (messages.length === 0 || messages.some((m) => !JSONRPCMessageSchema.safeParse(m).success))
        throw new InvalidRequestError('the body must be a JSON-RPC 2.0 message or a batch of them');
      const server = buildMcpServer(deps, {
        principal: ctx.state.principal,
        userId: callerUserId(ctx),
      });
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: undefined,
        enableJsonResponse: true,
      });
      ctx.res.on('close', () => {
        void transport.close();
        void server.close();
      });
      await server.connect(transport);
      ctx.respond = false;
      await transport.handleRequest(ctx.req, ctx.res, body);
    },
  );

  for (const method of ['get', 'delete'] as const) {
    route(router, { method, path: '/mcp', scope: 'chat' }, () => {
      // No sessions to stream to or end: the MCP client reads this as "stateless server".
      throw new AppError(
        405,
        'method_not_allowed',
        'this MCP server is stateless: POST JSON-RPC messages to /v1/mcp',
      );
    });
  }
  return router;
}
