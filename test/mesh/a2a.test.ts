/** The A2A edge, driven by @a2a-js/sdk's own client: agent card, send, stream, get, cancel; policy and guard at the edge. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ClientFactory, JsonRpcTransportFactory, type Client } from '@a2a-js/sdk/client';
import { Role, TaskState, type Message, type Task } from '@a2a-js/sdk';
import { rmSync } from 'node:fs';
import { BACKENDS, registerAgent, startMeshController, type MeshTestController } from './support.js';
import { dropSchema } from '../controller/backends.js';
import type { WorkItem } from '../../mesh/contracts.js';

function message(text: string, metadata: Record<string, unknown>): Message {
  return {
    messageId: `m-${Math.random().toString(36).slice(2)}`, contextId: '', taskId: '', role: Role.ROLE_USER,
    parts: [{ content: { $case: 'text', value: text }, metadata: undefined, filename: '', mediaType: 'text/plain' }],
    metadata, extensions: [], referenceTaskIds: [],
  } as Message;
}

const send = (client: Client, text: string, metadata: Record<string, unknown>) =>
  client.sendMessage({ tenant: '', message: message(text, metadata), configuration: undefined, metadata: undefined }) as Promise<Task>;

describe('A2A edge', () => {
  let c: MeshTestController;
  let url: string;
  let client: Client;
  before(async () => {
    c = await startMeshController('sqlite');
    url = await c.app.listen({ host: '127.0.0.1', port: 0 });
    await registerAgent(c, 'ana', 'ana-goose');
    const token = await c.token('partner-bot', ['marketing']);
    const authed: typeof fetch = (input, init) => fetch(input, { ...init, headers: { ...Object.fromEntries(new Headers(init?.headers).entries()), authorization: `Bearer ${token}` } });
    client = await new ClientFactory({ transports: [new JsonRpcTransportFactory({ fetchImpl: authed })] }).createFromUrl(url);
  });
  after(() => c.close());

  it('serves an Agent Card with one skill per role', async () => {
    const res = await fetch(`${url}/.well-known/agent-card.json`);
    assert.equal(res.status, 200);
    const card = (await res.json()) as { name: string; skills: Array<{ id: string }>; supportedInterfaces: Array<{ url: string; protocolBinding: string }> };
    assert.deepEqual(card.skills.map((s) => s.id).sort(), ['engineering', 'finance', 'marketing']);
    assert.equal(card.supportedInterfaces[0]!.url, `${url}/a2a/jsonrpc`);
    assert.equal(card.supportedInterfaces[0]!.protocolBinding, 'JSONRPC');
  });

  it('sends a task into the org, masked for the receiver, follows it with get, and sees the result masked for itself', async () => {
    const task = await send(client, 'Please check invoice 42', { target: 'finance', context: 'Customer Maria Schmidt (maria.schmidt@posteo.de) disputes it.' });
    assert.equal(task.status?.state, TaskState.TASK_STATE_SUBMITTED);
    const meshTaskId = task.metadata?.meshTaskId as string;
    assert.match(meshTaskId, /^task-/);
    const [item] = (await c.call('ana', 'GET', '/api/v1/agents/ana-goose/work?waitMs=0')).json().items as WorkItem[];
    assert.ok(item);
    assert.ok(!item.context!.includes('Maria Schmidt'), 'the guard applies at the edge: masked for finance');
    await c.call('ana', 'POST', `/api/v1/tasks/${meshTaskId}/result`, {
      leaseId: item.leaseId, state: 'completed', message: 'refund approved for maria.schmidt@posteo.de', artifacts: [{ name: 'answer', text: 'ok' }],
    });
    const got = await client.getTask({ tenant: '', id: task.id, historyLength: undefined });
    assert.equal(got.status?.state, TaskState.TASK_STATE_COMPLETED);
    const said = got.status?.message?.parts[0]?.content;
    assert.ok(said?.$case === 'text' && said.value.startsWith('ana-goose: refund approved for'));
    assert.ok(said?.$case === 'text' && !said.value.includes('maria.schmidt@posteo.de'), 'results are masked under the caller\'s role policy');
    assert.equal(got.artifacts.length, 1);
  });

  it('streams, cancels, and rejects what policy or the guard refuses', async () => {
    const events = [];
    for await (const ev of client.sendMessageStream({ tenant: '', message: message('stream me', { target: 'ana-goose' }), configuration: undefined, metadata: undefined })) events.push(ev);
    assert.ok(events.length >= 1);
    const first = events[0]!.payload;
    assert.equal(first?.$case, 'task');
    const streamed = (first as { value: Task }).value;
    const canceled = await client.cancelTask({ tenant: '', id: streamed.id, metadata: undefined });
    assert.equal(canceled.status?.state, TaskState.TASK_STATE_CANCELED);
    const mesh = (await c.call('admin', 'GET', `/api/v1/status/${streamed.metadata?.meshTaskId as string}`)).json();
    assert.equal(mesh.state, 'canceled');

    const blocked = await send(client, 'pay this', { target: 'finance', context: 'IBAN DE89 3704 0044 0532 0130 00' });
    assert.equal(blocked.status?.state, TaskState.TASK_STATE_REJECTED);
    const why = blocked.status?.message?.parts[0]?.content;
    assert.ok(why?.$case === 'text' && /blocks IBAN/.test(why.value));
    const nowhere = await send(client, 'hello', {});
    assert.equal(nowhere.status?.state, TaskState.TASK_STATE_REJECTED);
  });

  it('answers the v0.3 method names too (message/send, tasks/get)', async () => {
    const token = await c.token('partner-bot', ['marketing']);
    const call = async (method: string, params: unknown) => {
      const res = await fetch(`${url}/a2a/jsonrpc`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) });
      return (await res.json()) as { result?: { id: string; kind: string; status: { state: string } }; error?: unknown };
    };
    const sent = await call('message/send', { message: { kind: 'message', messageId: 'legacy-1', role: 'user', parts: [{ kind: 'text', text: 'legacy hello' }], metadata: { target: 'finance' } } });
    assert.equal(sent.error, undefined, JSON.stringify(sent));
    assert.equal(sent.result?.status.state, 'submitted');
    const got = await call('tasks/get', { id: sent.result!.id });
    assert.equal(got.result?.id, sent.result!.id);
    const anonymous = await fetch(`${url}/a2a/jsonrpc`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tasks/get', params: { id: 'x' } }) });
    assert.equal(anonymous.status, 401);
  });
});

for (const backend of BACKENDS) {
  describe(`A2A edge across a controller restart on ${backend}`, () => {
    let first: MeshTestController;
    let second: MeshTestController | undefined;
    const clientOf = async (c: MeshTestController) => {
      const url = await c.app.listen({ host: '127.0.0.1', port: 0 });
      const token = await c.token('partner-bot', ['marketing']);
      const authed: typeof fetch = (input, init) => fetch(input, { ...init, headers: { ...Object.fromEntries(new Headers(init?.headers).entries()), authorization: `Bearer ${token}` } });
      return new ClientFactory({ transports: [new JsonRpcTransportFactory({ fetchImpl: authed })] }).createFromUrl(url);
    };
    before(async () => {
      first = await startMeshController(backend);
      await registerAgent(first, 'ana', 'ana-goose');
    });
    after(async () => {
      await second?.close();
      if (first.dbUrl) await dropSchema(new URL(first.dbUrl).searchParams.get('schema')!);
      rmSync(first.dataDir, { recursive: true, force: true });
    });

    it('follows and cancels tasks sent before the restart, through the new process', async () => {
      const before = await clientOf(first);
      const done = await send(before, 'Please check invoice 7', { target: 'ana-goose' });
      const open = await send(before, 'Please check invoice 8', { target: 'ana-goose' });
      assert.equal(done.status?.state, TaskState.TASK_STATE_SUBMITTED);
      // The controller stops; a new process starts on the same database (nothing in memory survives).
      await first.app.close();
      await first.services.close();
      second = await startMeshController(backend, {}, { dataDir: first.dataDir, dbUrl: first.dbUrl });
      const afterRestart = await clientOf(second);

      const items = (await second.call('ana', 'GET', '/api/v1/agents/ana-goose/work?waitMs=0&max=5')).json().items as WorkItem[];
      const item = items.find((i) => i.taskId === done.metadata?.meshTaskId);
      assert.ok(item);
      const res = await second.call('ana', 'POST', `/api/v1/tasks/${item.taskId}/result`, { leaseId: item.leaseId, state: 'completed', message: 'checked' });
      assert.equal(res.statusCode, 200, res.body);
      const got = await afterRestart.getTask({ tenant: '', id: done.id, historyLength: undefined });
      assert.equal(got.status?.state, TaskState.TASK_STATE_COMPLETED, 'tasks/get finds the task and follows its mesh task');
      assert.equal(got.metadata?.meshTaskId, done.metadata?.meshTaskId);

      const canceled = await afterRestart.cancelTask({ tenant: '', id: open.id, metadata: undefined });
      assert.equal(canceled.status?.state, TaskState.TASK_STATE_CANCELED);
      const mesh = (await second.call('admin', 'GET', `/api/v1/status/${open.metadata?.meshTaskId as string}`)).json();
      assert.equal(mesh.state, 'canceled', 'tasks/cancel reaches the mesh task');

      const stranger = await second.token('someone-else', ['marketing']);
      const peek = await fetch(`${second.app.listeningOrigin}/a2a/jsonrpc`, {
        method: 'POST',
        headers: { authorization: `Bearer ${stranger}`, 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tasks/get', params: { id: done.id } }),
      });
      const body = (await peek.json()) as { error?: { message: string } };
      assert.ok(body.error, 'another caller does not see the task');
    });
  });
}
