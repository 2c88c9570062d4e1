import type Koa from 'koa';
import client from 'prom-client';

/** Prometheus metrics of one API process. */
export class ApiMetrics {
  readonly registry = new client.Registry();
  readonly httpDuration = new client.Histogram({
    name: 'reverie_http_request_duration_seconds',
    help: 'HTTP request latency (to response headers for streams)',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly turnsStarted = new client.Counter({
    name: 'reverie_turns_started_total',
    help: 'Chat turns accepted',
    registers: [this.registry],
  });
  readonly openStreams = new client.Gauge({
    name: 'reverie_sse_streams_open',
    help: 'SSE streams currently open',
    registers: [this.registry],
  });
  readonly ttft = new client.Histogram({
    name: 'reverie_time_to_first_token_seconds',
    help: 'Time from accepting a streamed turn to its first text delta at the API',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly sseRelay = new client.Summary({
    name: 'reverie_sse_relay_seconds',
    help: "Time from a run's latest event notification reaching the API to the event's frame being written to a stream",
    percentiles: [0.5, 0.9, 0.99],
    maxAgeSeconds: 600,
    ageBuckets: 5,
    registers: [this.registry],
  });

  constructor() {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'reverie_' });
  }

  middleware() {
    const histogram = this.httpDuration;
    return async function metricsMiddleware(ctx: Koa.Context, next: Koa.Next) {
      const end = histogram.startTimer({ method: ctx.method });
      try {
        await next();
      } finally {
        end({
          route: (ctx as { _matchedRoute?: string })._matchedRoute ?? 'unmatched',
          status: ctx.status,
        });
      }
    };
  }
}
