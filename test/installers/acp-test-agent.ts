/**
 * A real ACP agent over stdio, written with @agentclientprotocol/sdk, for the worker tests. On a
 * prompt it streams text and a tool call, then asks three permissions AT THE SAME TIME (read,
 * execute, delete), reports each answer as soon as it has it, and ends the turn with a line
 * naming the option kind chosen for each, then the prompt it got. A prompt containing "refuse"
 * ends with `refusal`; after `session/cancel` the turn ends with `cancelled`.
 */
import { Readable, Writable } from 'node:stream';
import { agent, methods, ndJsonStream, PROTOCOL_VERSION, type PermissionOption } from '@agentclientprotocol/sdk';

const OPTIONS: PermissionOption[] = [
  { optionId: 'always', name: 'Always allow', kind: 'allow_always' },
  { optionId: 'once', name: 'Allow once', kind: 'allow_once' },
  { optionId: 'no', name: 'Reject', kind: 'reject_once' },
  { optionId: 'never', name: 'Never', kind: 'reject_always' },
];

const cancelled = new Set<string>();

const app = agent({ name: 'switchboard-test-agent' })
  .onNotification(methods.agent.session.cancel, ({ params }) => {
    cancelled.add(params.sessionId);
  })
  .onRequest(methods.agent.initialize, () => ({ protocolVersion: PROTOCOL_VERSION, agentCapabilities: { loadSession: false } }))
  .onRequest(methods.agent.session.new, () => ({ sessionId: 'sess-1' }))
  .onRequest(methods.agent.session.prompt, async ({ params, client }) => {
    const sessionId = params.sessionId;
    const promptText = params.prompt.map((b) => (b.type === 'text' ? b.text : '')).join(' ');
    const say = (text: string) => client.notify(methods.client.session.update, { sessionId, update: { sessionUpdate: 'agent_message_chunk', content: { type: 'text', text } } });
    await say('Working. ');
    if (promptText.includes('refuse')) return { stopReason: 'refusal' as const };
    await client.notify(methods.client.session.update, { sessionId, update: { sessionUpdate: 'tool_call', toolCallId: 'read-1', title: 'Read ledger.csv', kind: 'read', status: 'pending' } });
    const ask = async (toolCallId: string, kind: 'read' | 'execute' | 'delete', title: string) => {
      const res = await client.request(methods.client.session.requestPermission, { sessionId, toolCall: { toolCallId, kind, title, rawInput: { path: 'ledger.csv' } }, options: OPTIONS });
      const chosen = res.outcome.outcome === 'selected' ? OPTIONS.find((o) => o.optionId === (res.outcome as { optionId: string }).optionId)?.kind ?? 'unknown' : 'cancelled';
      // Tell the client at once, while the other requests may still be open.
      await client.notify(methods.client.session.update, { sessionId, update: { sessionUpdate: 'tool_call_update', toolCallId, status: chosen.startsWith('allow') ? 'completed' : 'failed' } });
      return `${kind}:${chosen}`;
    };
    const answers = await Promise.all([ask('exec-1', 'execute', 'Run payment export'), ask('read-1', 'read', 'Read ledger.csv'), ask('del-1', 'delete', 'Delete old exports')]);
    if (cancelled.has(sessionId)) return { stopReason: 'cancelled' as const };
    await say(`Permissions ${answers.join(' ')}. Prompt: ${promptText}`);
    return { stopReason: 'end_turn' as const };
  });

const connection = app.connect(ndJsonStream(Writable.toWeb(process.stdout) as WritableStream<Uint8Array>, Readable.toWeb(process.stdin) as ReadableStream<Uint8Array>));
await connection.closed;
