import pino from 'pino';

export type Logger = pino.Logger;

/**
 * Structured JSON logs; secrets are redacted wherever they appear.
 * @param destination where lines go: stdout by default, or a file (appended,
 *   written synchronously so nothing is lost when the process exits).
 */
export function createLogger(
  level: string,
  name = 'reverie',
  destination?: string | pino.DestinationStream,
): Logger {
  const stream =
    typeof destination === 'string'
      ? pino.destination({ dest: destination, append: true, mkdir: true, sync: true })
      : destination;
  const options: pino.LoggerOptions = {
    name,
    level,
    redact: {
      // Credentials by where they travel: headers, config objects, request
      // and response bodies (keys, tokens, webhook secrets).
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'req.headers["x-admin-token"]',
        'req.headers["proxy-authorization"]',
        'req.headers["x-api-key"]',
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
  };
  return stream ? pino(options, stream) : pino(options);
}
