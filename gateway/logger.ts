/**
 * pino JSON logs: one line per request (id, route, model, status, timings) — never bodies.
 * Written to <data-dir>/logs/<name>.log and, when running in the foreground, to stdout. Every
 * line written inside a traced request carries its traceId and spanId (telemetry/log-context.ts).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { traceLogMixin } from '../platform/telemetry/log-context.js';

export interface LoggerOptions {
  dataDir: string;
  name: string;
  level: string;
  stdout: boolean;
}

export function createLogger(opts: LoggerOptions): Logger {
  if (opts.level === 'silent') return pino({ level: 'silent' });
  mkdirSync(join(opts.dataDir, 'logs'), { recursive: true, mode: 0o700 });
  const streams: pino.StreamEntry[] = [
    { level: opts.level as pino.Level, stream: pino.destination({ dest: join(opts.dataDir, 'logs', `${opts.name}.log`), mkdir: true, sync: false, mode: 0o600 }) },
  ];
  if (opts.stdout) streams.push({ level: opts.level as pino.Level, stream: pino.destination({ dest: 1, sync: false }) });
  return pino({ level: opts.level, base: { svc: opts.name }, timestamp: pino.stdTimeFunctions.isoTime, mixin: traceLogMixin }, pino.multistream(streams));
}
