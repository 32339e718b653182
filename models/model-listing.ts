/**
 * OpenRouter-shaped model listings (`GET /models`: data[].id, pricing.prompt/completion/
 * input_cache_read/input_cache_write as decimal strings in USD per token, context_length):
 * parsing with a schema, fetching from an upstream, storing under the data dir, and reading
 * back with the shipped snapshot as fallback.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { writeFileAtomic } from '../platform/atomic-file.js';
import shippedSnapshot from './snapshot/openrouter-models.json' with { type: 'json' };

export interface ListedModel {
  id: string;
  name?: string;
  promptUsdPerToken: number;
  completionUsdPerToken: number;
  cacheReadUsdPerToken?: number;
  cacheWriteUsdPerToken?: number;
  contextLength?: number;
  maxCompletionTokens?: number;
}

export interface ModelListingSource {
  kind: 'snapshot' | 'refreshed';
  /** ISO date/time the listing was taken. */
  takenAt: string;
  /** File it was read from ('' for the shipped snapshot). */
  path: string;
}

export interface ModelListing {
  models: ListedModel[];
  /** Entries left out: no usable price (e.g. OpenRouter's "-1" for auto-routers). */
  skipped: string[];
  source: ModelListingSource;
}

/** Where `switchboard models refresh` stores the listing, relative to the data dir. */
export const REFRESHED_LISTING_FILE = join('models', 'openrouter-models.json');

const priceString = { type: 'string', pattern: '^-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?$' } as const;
const listingSchema = {
  type: 'object',
  required: ['data'],
  properties: {
    data: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id'],
        properties: {
          id: { type: 'string', minLength: 1 },
          name: { type: 'string' },
          context_length: { type: ['integer', 'null'] },
          pricing: {
            type: 'object',
            properties: { prompt: priceString, completion: priceString, input_cache_read: priceString, input_cache_write: priceString },
          },
          top_provider: {
            type: 'object',
            properties: { max_completion_tokens: { type: ['integer', 'null'] }, context_length: { type: ['integer', 'null'] } },
          },
        },
      },
    },
  },
} as const;

const ajv = new Ajv({ allErrors: false, strict: false });
const validateListing = ajv.compile(listingSchema);

interface RawListedModel {
  id: string;
  name?: string;
  context_length?: number | null;
  pricing?: { prompt?: string; completion?: string; input_cache_read?: string; input_cache_write?: string };
  top_provider?: { max_completion_tokens?: number | null; context_length?: number | null };
}

export class ModelListingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelListingError';
  }
}

function price(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** Parses a listing; throws ModelListingError naming the first problem. */
export function parseModelListing(json: unknown): { models: ListedModel[]; skipped: string[] } {
  if (!validateListing(json)) {
    const e = validateListing.errors?.[0];
    throw new ModelListingError(`not an OpenRouter-style model listing: ${e ? `${e.instancePath || '(top level)'} ${e.message}` : 'invalid'}`);
  }
  const models: ListedModel[] = [];
  const skipped: string[] = [];
  for (const raw of (json as { data: RawListedModel[] }).data) {
    const prompt = price(raw.pricing?.prompt);
    const completion = price(raw.pricing?.completion);
    if (prompt === undefined || completion === undefined) {
      skipped.push(raw.id);
      continue;
    }
    const cacheRead = price(raw.pricing?.input_cache_read);
    const cacheWrite = price(raw.pricing?.input_cache_write);
    const context = raw.context_length ?? raw.top_provider?.context_length ?? undefined;
    const maxCompletion = raw.top_provider?.max_completion_tokens ?? undefined;
    models.push({
      id: raw.id,
      ...(raw.name ? { name: raw.name } : {}),
      promptUsdPerToken: prompt,
      completionUsdPerToken: completion,
      ...(cacheRead !== undefined ? { cacheReadUsdPerToken: cacheRead } : {}),
      ...(cacheWrite !== undefined ? { cacheWriteUsdPerToken: cacheWrite } : {}),
      ...(context ? { contextLength: context } : {}),
      ...(maxCompletion ? { maxCompletionTokens: maxCompletion } : {}),
    });
  }
  return { models, skipped };
}

function snapshotListing(): ModelListing {
  const parsed = parseModelListing(shippedSnapshot);
  return { ...parsed, source: { kind: 'snapshot', takenAt: shippedSnapshot.snapshot.takenAt, path: '' } };
}

/**
 * The refreshed listing under the data dir if there is a readable one, else the shipped snapshot.
 * A damaged refreshed file is reported through `onProblem` and ignored rather than fatal.
 */
export function readModelListing(dataDir: string | undefined, onProblem?: (message: string) => void): ModelListing {
  if (dataDir) {
    const file = join(dataDir, REFRESHED_LISTING_FILE);
    if (existsSync(file)) {
      try {
        const json = JSON.parse(readFileSync(file, 'utf8')) as { fetchedAt?: unknown };
        const parsed = parseModelListing(json);
        const takenAt = typeof json.fetchedAt === 'string' ? json.fetchedAt : 'unknown';
        return { ...parsed, source: { kind: 'refreshed', takenAt, path: file } };
      } catch (err) {
        onProblem?.(`${file}: ${(err as Error).message}; using the shipped snapshot`);
      }
    }
  }
  return snapshotListing();
}

export interface FetchListingOptions {
  apiKey?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** GET <baseUrl>/models, validated. Throws ModelListingError with a one-line reason. */
export async function fetchModelListing(baseUrl: string, opts: FetchListingOptions = {}): Promise<{ json: unknown; models: ListedModel[]; skipped: string[] }> {
  const url = `${baseUrl.replace(/\/+$/, '')}/models`;
  const signals = [AbortSignal.timeout(opts.timeoutMs ?? 20_000), ...(opts.signal ? [opts.signal] : [])];
  let res: Response;
  try {
    res = await fetch(url, {
      headers: { accept: 'application/json', ...(opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {}) },
      signal: AbortSignal.any(signals),
    });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const cause = e.name === 'TimeoutError' ? 'timed out' : (e.cause?.code ?? e.cause?.message ?? e.message);
    throw new ModelListingError(`could not reach ${url} (${cause})`);
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new ModelListingError(`${url} answered HTTP ${res.status}`);
  }
  let json: unknown;
  try {
    json = await res.json();
  } catch {
    throw new ModelListingError(`${url} did not return JSON`);
  }
  return { json, ...parseModelListing(json) };
}

/** Stores a fetched listing (as received, plus fetchedAt/source) atomically under the data dir. */
export function storeModelListing(dataDir: string, json: unknown, sourceUrl: string, now = new Date()): string {
  const file = join(dataDir, REFRESHED_LISTING_FILE);
  mkdirSync(join(dataDir, 'models'), { recursive: true, mode: 0o700 });
  const out = { ...(json as Record<string, unknown>), fetchedAt: now.toISOString(), source: sourceUrl };
  writeFileAtomic(file, `${JSON.stringify(out)}\n`, 0o600);
  return file;
}
