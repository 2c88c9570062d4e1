/**
 * One error hierarchy, mapped to the HTTP contract (API.md "Errors") by the
 * error middleware. `expose` says whether `message` may reach the client.
 */
export class AppError extends Error {
  override name = 'AppError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown; expose?: boolean; type?: string },
  ) {
    super(message, { cause: options?.cause });
    this.expose = options?.expose ?? status < 500;
    this.type = options?.type ?? defaultType(status);
  }
  readonly expose: boolean;
  readonly type: string;
}

function defaultType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}

export class InvalidRequestError extends AppError {
  constructor(message: string, details?: Record<string, unknown>) {
    super(400, 'invalid_request', message, details);
  }
}

export class UnauthorizedError extends AppError {
  constructor(message = 'a valid API key is required') {
    super(401, 'unauthorized', message);
  }
}

export class NotFoundError extends AppError {
  constructor(what: string) {
    super(404, 'not_found', `${what} not found`);
  }
}

/** 409 with a specific code: `conflict`, `run_in_progress` or `idempotency_conflict`. */
/**
 * 404 `model_not_found`: a model nothing here serves (or the provider does not
 * know). `message` names what is available, since it is what SDKs show.
 */
export class ModelNotFoundError extends AppError {
  constructor(message: string, details?: Record<string, unknown>) {
    // OpenAI's own type for this code, so SDK users see the familiar shape.
    super(404, 'model_not_found', message, details, { type: 'invalid_request_error' });
  }
}

/** 409 with a specific code: `conflict`, `run_in_progress` or `idempotency_conflict`. */
export class ConflictError extends AppError {
  constructor(
    code: 'conflict' | 'run_in_progress' | 'idempotency_conflict',
    message: string,
    details?: Record<string, unknown>,
  ) {
    super(409, code, message, details);
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(limitBytes: number) {
    super(413, 'payload_too_large', `request body exceeds the limit of ${limitBytes} bytes`, {
      limit_bytes: limitBytes,
    });
  }
}

export class UnavailableError extends AppError {
  constructor(message: string, details?: Record<string, unknown>, cause?: unknown) {
    super(503, 'unavailable', message, details, { cause, expose: true });
  }
}

export class TimeoutError extends AppError {
  constructor(message: string, details?: Record<string, unknown>) {
    super(408, 'timeout', message, details);
  }
}
