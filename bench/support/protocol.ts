/**
 * Messages between the benchmark's parent (load generator) and its server child processes.
 * Servers run in their own processes so the load generator does not steal their event loop.
 */

export type ServerRole = 'upstream' | 'passthrough' | 'gateway' | 'gateway-spine';

/** The stages of the bare spine: what every request pays before any optional stage. */
export const SPINE_STAGES = ['authenticate', 'loadPolicy', 'forward'];

/** Child → parent. */
export type ChildMessage =
  | { type: 'ready'; role: ServerRole; url: string; token?: string; stages?: string[] }
  | { type: 'cpu'; seq: number; userMicros: number; systemMicros: number; rssBytes: number }
  | { type: 'failed'; message: string };

/** Parent → child. */
export type ParentMessage = { type: 'cpu'; seq: number } | { type: 'stop' };

/** Header asking the benchmark upstream to drip a stream (ms between events), so many streams overlap. */
export const DRIP_HEADER = 'x-bench-drip-ms';

/** Text pieces of every benchmark stream; the answer is the same for every target. */
export const STREAM_PIECES = ['Here', ' is', ' the', ' plan', ':', ' read', ' the', ' file', ',', ' then', ' edit', ' it', '.'];
