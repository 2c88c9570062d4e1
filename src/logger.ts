import pino from 'pino';

export type Logger = pino.Logger;

/** Structured JSON logs; secrets are redacted wherever they appear. */
export function createLogger(level: string, name = 'reverie'): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'headers.authorization',
        '*.apiKey',
        '*.api_key',
        'apiKey',
        'password',
        '*.password',
      ],
      censor: '[redacted]',
    },
  });
}
