/**
 * One compiled validator for the audit event schema, shared by the spool (before an event is
 * written), the controller's ingest (per event) and export-file reading, so all three agree.
 */
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { auditEventSchema, type AuditEvent } from './event.js';

const ajv = new Ajv({ allErrors: false, strict: false });
addFormats.default(ajv);
const validate = ajv.compile<AuditEvent>(auditEventSchema);

/** Why `candidate` is not a valid audit event, or null when it is one. */
export function auditEventProblem(candidate: unknown): string | null {
  return validate(candidate) ? null : ajv.errorsText(validate.errors, { dataVar: 'event' });
}

export function isAuditEvent(candidate: unknown): candidate is AuditEvent {
  return validate(candidate);
}
