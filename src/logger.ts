import pino from 'pino';

export type Logger = pino.Logger;

/** Structured JSON logs; secrets are redacted wherever they appear. */
export function createLogger(level: string, name = 'reverie'): Logger {
  return pino({
    name,
    level,
    redact: {
      // Credentials by where they travel: headers, config objects, request
      // and response bodies (keys, tokens, webhook secrets).
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'req.headers["x-admin-token"]',
        'res.headers["set-cookie"]',
        'headers.authorization',
        'headers.cookie',
        '*.apiKey',
        '*.api_key',
        'apiKey',
        'adminToken',
        '*.adminToken',
        'security.adminToken',
        '*.secretAccessKey',
        'key',
        '*.key',
        'token',
        '*.token',
        'webhook_secret',
        '*.webhook_secret',
        'password',
        '*.password',
      ],
      censor: '[redacted]',
    },
  });
}
