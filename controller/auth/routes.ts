/** Enrolment codes (admin), the code exchange and refresh-token rotation (public: the secret is the credential). */
import type { AreaPlugin } from '../plugins.js';
import { adminOnly } from '../route-auth.js';
import { authErrorResponses, HttpError } from '../http-errors.js';
import { CredentialRejected, MAX_ENROLMENT_CODE_TTL_S, type TokenPair } from './enrolment.js';
import { enrolmentRoles, RoleChoiceError } from './enrolment-roles.js';

const SUBJECT_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,127}$';
const ROLE_PATTERN = '^[a-z][a-z0-9_-]{0,63}$';

const tokenResponse = {
  $id: 'TokenResponse',
  type: 'object',
  required: ['access_token', 'token_type', 'expires_in', 'refresh_token', 'refresh_expires_at', 'subject', 'roles', 'tenant'],
  properties: {
    access_token: { type: 'string' },
    token_type: { const: 'Bearer' },
    expires_in: { type: 'integer', description: 'seconds' },
    refresh_token: { type: 'string', description: 'single use; every refresh returns a new one (the same one again for a minute, if the reply was lost)' },
    refresh_expires_at: { type: 'integer', description: 'unix seconds' },
    subject: { type: 'string' },
    roles: { type: 'array', items: { type: 'string' } },
    tenant: { type: 'string' },
  },
} as const;

const toTokenResponse = (p: TokenPair) => ({
  access_token: p.accessToken.token,
  token_type: 'Bearer' as const,
  expires_in: p.accessToken.expiresIn,
  refresh_token: p.refreshToken,
  refresh_expires_at: p.refreshExpiresAt,
  subject: p.subject,
  roles: p.roles,
  tenant: p.tenant,
});

export const authRoutes: AreaPlugin = async (app, { services }) => {
  app.addSchema(tokenResponse);

  app.post<{ Body: { subject: string; roles?: string[]; ttlSeconds?: number } }>('/api/v1/enrol-codes', {
    config: { auth: adminOnly },
    schema: {
      tags: ['auth'],
      summary: 'Create a one-time enrolment code (admin)',
      description: 'Roles default to the subject\'s roles in the directory (those with a profile) when the subject is a person there. ' +
        'Every role must have a profile. The code ends with the fingerprint of the bundle signing keys, which the gateway checks at enrolment.',
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['subject'],
        properties: {
          subject: { type: 'string', pattern: SUBJECT_PATTERN, description: 'person id, or e.g. gateway:alice-laptop' },
          roles: { type: 'array', minItems: 1, maxItems: 20, uniqueItems: true, items: { type: 'string', pattern: ROLE_PATTERN } },
          ttlSeconds: { type: 'integer', minimum: 60, maximum: MAX_ENROLMENT_CODE_TTL_S },
        },
      },
      response: {
        201: {
          type: 'object',
          required: ['code', 'subject', 'roles', 'tenant', 'expiresAt'],
          properties: { code: { type: 'string' }, subject: { type: 'string' }, roles: { type: 'array', items: { type: 'string' } }, tenant: { type: 'string' }, expiresAt: { type: 'integer' } },
        },
        400: { $ref: 'ErrorResponse#' },
        ...authErrorResponses,
      },
    },
  }, async (request, reply) => {
    const { subject, ttlSeconds } = request.body;
    let roles: string[];
    try {
      roles = await enrolmentRoles(services, subject, request.body.roles);
    } catch (err) {
      if (err instanceof RoleChoiceError) throw new HttpError(400, err.message);
      throw err;
    }
    const created = await services.enrolment.createCode({ subject, roles, ttlSeconds, createdBy: request.caller!.subject });
    return reply.code(201).send(created);
  });

  app.post<{ Body: { code: string } }>('/api/v1/enrol', {
    config: { auth: 'public' },
    schema: {
      tags: ['auth'],
      summary: 'Exchange a one-time enrolment code for an access token and a refresh token',
      security: [],
      body: { type: 'object', additionalProperties: false, required: ['code'], properties: { code: { type: 'string', minLength: 8, maxLength: 200 } } },
      response: { 200: { $ref: 'TokenResponse#' }, 400: { $ref: 'ErrorResponse#' }, 401: { $ref: 'ErrorResponse#' } },
    },
  }, async (request) => {
    try {
      return toTokenResponse(await services.enrolment.exchange(request.body.code));
    } catch (err) {
      if (err instanceof CredentialRejected) throw new HttpError(401, err.message);
      throw err;
    }
  });

  app.post<{ Body: { refreshToken: string } }>('/api/v1/token/refresh', {
    config: { auth: 'public' },
    schema: {
      tags: ['auth'],
      summary: 'Rotate a refresh token: returns a new access token and a new refresh token',
      security: [],
      body: { type: 'object', additionalProperties: false, required: ['refreshToken'], properties: { refreshToken: { type: 'string', minLength: 8, maxLength: 200 } } },
      response: { 200: { $ref: 'TokenResponse#' }, 400: { $ref: 'ErrorResponse#' }, 401: { $ref: 'ErrorResponse#' } },
    },
  }, async (request) => {
    try {
      return toTokenResponse(await services.enrolment.refresh(request.body.refreshToken));
    } catch (err) {
      if (err instanceof CredentialRejected) throw new HttpError(401, err.message);
      throw err;
    }
  });
};

