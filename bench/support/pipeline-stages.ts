/**
 * Narrowing a gateway's pipeline for a benchmark (`--without <stages>`): pricing a stage by
 * running without it. The server reads `services.stages` per request, so narrowing the list in
 * place narrows the pipeline. Used by the bench server process and by bench:goose-session's
 * in-process gateway.
 */
import type { Stage } from '../../gateway/context.js';

/** Splits a `--without` value ("a, b,c") into stage names. */
export function stageNames(list: string | undefined): string[] {
  return (list ?? '').split(',').map((name) => name.trim()).filter(Boolean);
}

/** Removes the named stages in place; throws, naming the pipeline's stages, when a name is none of them. */
export function dropStages(stages: Stage[], without: readonly string[]): void {
  const unknown = without.filter((name) => !stages.some((s) => s.name === name));
  if (unknown.length > 0) {
    throw new Error(`--without names no stage of this pipeline: ${unknown.join(', ')} (stages: ${stages.map((s) => s.name).join(', ')})`);
  }
  stages.splice(0, stages.length, ...stages.filter((s) => !without.includes(s.name)));
}
