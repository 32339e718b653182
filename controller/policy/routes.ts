/** POST /api/v1/evaluate: {subject, action, resource, context?} → {allow, reasons}. */
import type { AreaPlugin } from '../plugins.js';
import { authErrorResponses } from '../http-errors.js';
import type { AttributeValue } from '../directory/types.js';
import type { BudgetState, EvaluationPrincipal } from './evaluator.js';

const attributes = {
  type: 'object',
  maxProperties: 50,
  propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_]{0,63}$' },
  additionalProperties: { type: ['string', 'number', 'boolean'] },
} as const;

interface EvaluateBody {
  subject: { id: string; roles?: string[]; department?: string; attributes?: Record<string, AttributeValue> };
  action: string;
  resource: { type: string; id: string; attributes?: Record<string, AttributeValue> };
  context?: { time?: string; budgetState?: BudgetState; amount?: number; dataClass?: string; attributes?: Record<string, AttributeValue> };
}

export const evaluateRoutes: AreaPlugin = async (app, { services }) => {
  app.post<{ Body: EvaluateBody }>('/api/v1/evaluate', {
    schema: {
      tags: ['policy'],
      summary: 'Decide whether a subject may perform an action on a resource',
      description:
        'RBAC by role plus ABAC on attributes. A subject found in the directory gets its roles, department and attributes from there; ' +
        'otherwise the roles/department given here are used.',
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['subject', 'action', 'resource'],
        properties: {
          subject: {
            type: 'object',
            additionalProperties: false,
            required: ['id'],
            properties: {
              id: { type: 'string', minLength: 1, maxLength: 128 },
              roles: { type: 'array', maxItems: 20, items: { type: 'string', pattern: '^[a-z][a-z0-9_-]{0,63}$' } },
              department: { type: 'string', minLength: 1, maxLength: 128 },
              attributes,
            },
          },
          action: { type: 'string', pattern: '^[a-z][a-z0-9_-]*(\\.[a-z][a-z0-9_-]*)*$', maxLength: 64, examples: ['model.call', 'extension.use', 'payment.approve'] },
          resource: {
            type: 'object',
            additionalProperties: false,
            required: ['type', 'id'],
            properties: {
              type: { type: 'string', pattern: '^[a-z][a-z0-9_]{0,31}$', examples: ['model', 'extension', 'skill', 'data', 'payment'] },
              id: { type: 'string', minLength: 1, maxLength: 256 },
              attributes,
            },
          },
          context: {
            type: 'object',
            additionalProperties: false,
            properties: {
              time: { type: 'string', format: 'date-time' },
              budgetState: { enum: ['ok', 'soft', 'hard'] },
              amount: { type: 'number', minimum: 0, maximum: 1e12 },
              dataClass: { type: 'string', pattern: '^[A-Z][A-Z0-9_]{0,63}$' },
              attributes,
            },
          },
        },
      },
      response: {
        200: {
          type: 'object',
          required: ['allow', 'reasons', 'policies', 'policyVersion'],
          properties: {
            allow: { type: 'boolean' },
            reasons: { type: 'array', items: { type: 'string' } },
            policies: { type: 'array', items: { type: 'string' }, description: 'ids of the deciding rules' },
            policyVersion: { type: 'string' },
          },
        },
        400: { $ref: 'ErrorResponse#' },
        ...authErrorResponses,
      },
    },
  }, async (request) => {
    const { subject, action, resource, context } = request.body;
    const facts = await services.directory.personFacts(subject.id);
    const principal: EvaluationPrincipal = facts
      ? { id: facts.id, roles: facts.roles, department: facts.department, team: facts.team, attributes: facts.attributes }
      : { id: subject.id, roles: subject.roles ?? [], department: subject.department ?? null, attributes: subject.attributes ?? {} };
    return services.evaluator.evaluate({ principal, action, resource, context });
  });
};
