import { bodyParser } from '@koa/bodyparser';
import Koa from 'koa';
import request from 'supertest';
import { errorHandler } from '../../src/api/middleware/error-handler';
import { requestId } from '../../src/api/middleware/request-id';
import { ConflictError, InvalidRequestError, NotFoundError } from '../../src/errors';
import { createLogger } from '../../src/logger';

/** Every failure leaves in the contract's shape; unknown errors say nothing. */
function app(fail: () => never) {
  const koa = new Koa();
  koa.on('error', () => undefined);
  koa.use(requestId(createLogger('silent')));
  koa.use(errorHandler(64));
  koa.use(bodyParser({ enableTypes: ['json'], jsonLimit: 64 }));
  koa.use((ctx) => {
    if (ctx.path === '/ok') {
      ctx.body = { ok: true };
      return;
    }
    fail();
  });
  return koa.callback();
}

describe('error mapping', () => {
  const cases: [string, () => never, number, string][] = [
    [
      'invalid request',
      () => {
        throw new InvalidRequestError('bad limit', { issues: [] });
      },
      400,
      'invalid_request',
    ],
    [
      'not found',
      () => {
        throw new NotFoundError('session');
      },
      404,
      'not_found',
    ],
    [
      'run in progress',
      () => {
        throw new ConflictError('run_in_progress', 'busy');
      },
      409,
      'run_in_progress',
    ],
  ];
  it.each(cases)('%s', async (_name, fail, status, code) => {
    const res = await request(app(fail)).get('/x').set('X-Request-ID', 'req-1');
    expect(res.status).toBe(status);
    expect(res.body).toEqual({
      error: {
        code,
        message: expect.any(String),
        type: expect.any(String),
        details: expect.any(Object),
        request_id: 'req-1',
      },
    });
  });

  it('hides unknown errors behind 500 internal', async () => {
    const res = await request(
      app(() => {
        throw new Error('db password is hunter2');
      }),
    ).get('/x');
    expect(res.status).toBe(500);
    expect(res.body.error).toMatchObject({
      code: 'internal',
      message: 'internal error',
      details: {},
    });
    expect(JSON.stringify(res.body)).not.toContain('hunter2');
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('maps malformed JSON to 400 and an oversized body to 413', async () => {
    const never = () => {
      throw new Error('unreachable');
    };
    const malformed = await request(app(never))
      .post('/ok')
      .set('Content-Type', 'application/json')
      .send('{oops');
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe('invalid_request');
    const big = await request(app(never))
      .post('/ok')
      .send({ text: 'x'.repeat(200) });
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('payload_too_large');
  });
});
