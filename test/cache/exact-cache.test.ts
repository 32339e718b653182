import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { JsonObject, JsonValue, SseEvent } from '../../gateway/context.js';
import { cacheKey, canonicalJson, digestFields, isDeterministic } from '../../gateway/cache/key.js';
import { ExactCache, type ExactCacheOptions } from '../../gateway/cache/exact-cache.js';
import { openGatewayDb } from '../../platform/sqlite.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDb() {
  const dir = mkdtempSync(join(tmpdir(), 'sb-cache-'));
  dirs.push(dir);
  return join(dir, 'gateway.db');
}

const options: ExactCacheOptions = { ttlMs: 60_000, maxEntries: 100, maxBytes: 1_000_000, memoryMaxBytes: 100_000, maxEntryBytes: 50_000 };

describe('cache keys', () => {
  const body = { model: 'm', messages: [{ role: 'user', content: 'hi' }], temperature: 0, tools: [{ b: 1, a: 2 }] };

  it('canonical JSON sorts keys at every depth and matches JSON.parse round trips', () => {
    assert.equal(canonicalJson({ b: [{ d: 1, c: 'x' }], a: null }), '{"a":null,"b":[{"c":"x","d":1}]}');
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const text = canonicalJson(v as JsonValue);
        assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(v)));
      }),
    );
  });

  it('does not depend on key order, stream_options or user, but on everything else', () => {
    const base = cacheKey({ tenantId: 't', route: 'chat', stream: false, body });
    const reordered = { tools: [{ a: 2, b: 1 }], temperature: 0, messages: body.messages, model: 'm' };
    assert.equal(cacheKey({ tenantId: 't', route: 'chat', stream: false, body: reordered }), base);
    assert.equal(cacheKey({ tenantId: 't', route: 'chat', stream: false, body: { ...body, user: 'u1', stream: false, stream_options: { include_usage: true } } }), base);
    assert.notEqual(cacheKey({ tenantId: 't2', route: 'chat', stream: false, body }), base, 'tenant namespaces');
    assert.notEqual(cacheKey({ tenantId: 't', route: 'chat', stream: true, body }), base, 'stream flag namespaces');
    assert.notEqual(cacheKey({ tenantId: 't', route: 'messages', stream: false, body }), base, 'route namespaces');
    assert.notEqual(cacheKey({ tenantId: 't', route: 'chat', stream: false, body: { ...body, max_tokens: 5 } }), base, 'parameters count');
    assert.notEqual(cacheKey({ tenantId: 't', route: 'chat', stream: false, body: { ...body, model: 'n' } }), base, 'model counts');
    assert.match(base, /^[0-9a-f]{64}$/);
  });

  it('keys long texts by digest through the wire map: every character still counts, the field is never confused with JSON', () => {
    const long = 'Here is the file you asked for, with its whole history. '.repeat(20);
    const at = (content: string, route: 'chat' | 'messages' = 'chat') => cacheKey({ tenantId: 't', route, stream: false, body: { model: 'm', temperature: 0, messages: [{ role: 'user', content }] } });
    assert.equal(at(long), at(`${long}`), 'same text, same key');
    assert.notEqual(at(long), at(`${long.slice(0, -1)}!`), 'one character differs');
    assert.notEqual(at(long), at(long.slice(1)), 'one character fewer');
    // The canonical form writes the named field as an unquoted digest: no JSON string can equal it.
    const body: JsonObject = { messages: [{ role: 'user', content: long }] };
    const withDigests = canonicalJson(body, undefined, digestFields('chat', body));
    assert.ok(!withDigests.includes('Here is the file'), withDigests);
    assert.match(withDigests, /"content":#[A-Za-z0-9+/=]{44},"role"/);
    // Fields outside the map stay JSON (a tool name, ids), and so do short texts.
    assert.ok(canonicalJson({ messages: [{ role: 'user', content: 'short' }] }, undefined, digestFields('chat', { messages: [{ role: 'user', content: 'short' }] })).includes('"short"'));
  });

  it('lone surrogates in user text do not break keying', () => {
    assert.doesNotThrow(() => cacheKey({ tenantId: 't', route: 'chat', stream: false, body: { messages: [{ content: '\ud800' }] } as JsonObject }));
  });

  it('deterministic means temperature 0 (embeddings always)', () => {
    assert.equal(isDeterministic('chat', { temperature: 0 }), true);
    assert.equal(isDeterministic('chat', { temperature: 0.2 }), false);
    assert.equal(isDeterministic('chat', {}), false);
    assert.equal(isDeterministic('embeddings', {}), true);
  });
});

describe('exact cache store', () => {
  const events: SseEvent[] = [{ data: '{"id":"chatcmpl-1","choices":[]}' }, { data: '[DONE]' }];

  it('serves from memory, and from SQLite after a restart', () => {
    const file = tempDb();
    let db = openGatewayDb(file);
    let cache = new ExactCache(db, options);
    assert.equal(cache.get('k'), undefined);
    assert.equal(cache.put('k', 't', { kind: 'sse', status: 200, contentType: 'text/event-stream', events, responseId: 'chatcmpl-1' }), true);
    assert.deepEqual(cache.get('k')?.events, events);
    db.close();

    db = openGatewayDb(file);
    cache = new ExactCache(db, options);
    const again = cache.get('k');
    assert.deepEqual(again?.events, events);
    assert.equal(again?.responseId, 'chatcmpl-1');
    assert.equal(cache.stats().entries, 1);
    db.close();
  });

  it('expires entries after the TTL, in memory and on disk', () => {
    let now = 1_000;
    const db = openGatewayDb(tempDb());
    const cache = new ExactCache(db, { ...options, ttlMs: 500, now: () => now });
    cache.put('k', 't', { kind: 'json', status: 200, contentType: 'application/json', body: '{}' });
    now = 1_499;
    assert.ok(cache.get('k'));
    now = 1_500;
    assert.equal(cache.get('k'), undefined);
    const fresh = new ExactCache(db, { ...options, ttlMs: 500, now: () => now });
    assert.equal(fresh.get('k'), undefined, 'expired rows are not served from SQLite either');
    db.close();
  });

  it('keeps the persistent store under its entry and byte caps, least recently used first', () => {
    let now = 0;
    const db = openGatewayDb(tempDb());
    const cache = new ExactCache(db, { ...options, maxEntries: 10, maxBytes: 1_000_000, now: () => ++now });
    for (let i = 0; i < 10; i++) cache.put(`k${i}`, 't', { kind: 'json', status: 200, contentType: 'application/json', body: `{"n":${i}}` });
    // Touch k0 through the disk path so it becomes recently used.
    const disk = new ExactCache(db, { ...options, maxEntries: 10, now: () => ++now });
    assert.ok(disk.get('k0'));
    for (let i = 10; i < 15; i++) disk.put(`k${i}`, 't', { kind: 'json', status: 200, contentType: 'application/json', body: `{"n":${i}}` });
    const stats = disk.stats();
    assert.ok(stats.entries <= 10, `entries ${stats.entries}`);
    const probe = new ExactCache(db, { ...options, now: () => now });
    assert.ok(probe.get('k0'), 'recently used entry survives');
    assert.equal(probe.get('k1'), undefined, 'oldest untouched entry is evicted');
    assert.ok(probe.get('k14'));

    const small = new ExactCache(db, { ...options, maxEntries: 1000, maxBytes: 100, now: () => ++now });
    small.clear();
    for (let i = 0; i < 20; i++) small.put(`b${i}`, 't', { kind: 'json', status: 200, contentType: 'application/json', body: 'x'.repeat(20) });
    assert.ok(small.stats().bytes <= 100, `bytes ${small.stats().bytes}`);
    db.close();
  });

  it('refuses entries above maxEntryBytes and clears per tenant', () => {
    const db = openGatewayDb(tempDb());
    const cache = new ExactCache(db, { ...options, maxEntryBytes: 10 });
    assert.equal(cache.put('big', 't', { kind: 'json', status: 200, contentType: 'application/json', body: 'x'.repeat(11) }), false);
    assert.equal(cache.get('big'), undefined);
    cache.put('a', 't1', { kind: 'json', status: 200, contentType: 'application/json', body: '1' });
    cache.put('b', 't2', { kind: 'json', status: 200, contentType: 'application/json', body: '2' });
    assert.equal(cache.clear('t1'), 1);
    assert.equal(cache.get('a'), undefined);
    assert.ok(cache.get('b'));
    db.close();
  });
});
