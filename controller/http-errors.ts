/**
 * The controller's error body and the errors routes throw for user-caused problems. Every
 * error answer has the same shape: `{ statusCode, error, message }` (fastify's own shape, so
 * schema-validation 400s and route errors look alike), plus `code` where a client must tell one
 * error from another (409 `version_conflict`).
 */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly headers: Record<string, string> = {},
    /** Machine-readable reason for errors a client handles differently (e.g. `version_conflict`). */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const errorResponseSchema = {
  $id: 'ErrorResponse',
  type: 'object',
  required: ['statusCode', 'error', 'message'],
  properties: {
    statusCode: { type: 'integer' },
    error: { type: 'string' },
    message: { type: 'string' },
    code: { type: 'string' },
  },
} as const;

/** `response` entries every authenticated route declares, so OpenAPI documents them. */
export const authErrorResponses = {
  401: { $ref: 'ErrorResponse#' },
  403: { $ref: 'ErrorResponse#' },
} as const;
