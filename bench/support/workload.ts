/** The benchmark's request: what a Goose agent turn looks like on the wire (see docs/goose.md). */

/** A request shaped like a Goose agent turn: system prompt, tools, a short conversation. */
export function gooseLikeBody(stream: boolean): string {
  const tool = (name: string, description: string, props: Record<string, string>) => ({
    type: 'function',
    function: {
      name,
      description,
      parameters: {
        type: 'object',
        properties: Object.fromEntries(Object.entries(props).map(([k, d]) => [k, { type: 'string', description: d }])),
        required: Object.keys(props),
      },
    },
  });
  return JSON.stringify({
    model: 'anthropic/claude-sonnet-4',
    messages: [
      {
        role: 'system',
        content:
          'You are a general-purpose AI agent called goose. You can use tools from the extensions below to complete tasks. ' +
          'Be concise, prefer small reversible steps, and explain what you change. '.repeat(12),
      },
      { role: 'user', content: 'Look at src/server.ts and tell me why the health check returns 503 after a restart.' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'developer__shell', arguments: '{"command":"sed -n 1,80p src/server.ts"}' } }],
      },
      { role: 'tool', tool_call_id: 'call_1', content: 'import http from "node:http";\n'.repeat(40) },
    ],
    tools: [
      tool('developer__shell', 'Run a shell command and return its output.', { command: 'the command line' }),
      tool('developer__text_editor', 'View or edit a text file.', { command: 'view|write|str_replace', path: 'absolute path', file_text: 'new content' }),
      tool('todo__write', 'Record the task list.', { content: 'markdown checklist' }),
    ],
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
  });
}
