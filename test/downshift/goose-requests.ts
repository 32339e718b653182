/** Request bodies shaped like the ones Goose sends (see the Goose integration reference, §2–§3). */
import type { JsonObject } from '../../gateway/context.js';

export const shellTool = { type: 'function', function: { name: 'developer__shell', description: 'run', parameters: { type: 'object', properties: {} } } };

export const gooseRequests = {
  turn: {
    model: 'anthropic/claude-sonnet-4',
    messages: [{ role: 'system', content: 'You are a general-purpose AI agent called goose.' }, { role: 'user', content: 'list my files' }],
    tools: [shellTool],
    max_tokens: 8192,
  },
  compaction: {
    model: 'anthropic/claude-sonnet-4',
    messages: [
      { role: 'system', content: '## Task\nSummarize the conversation below...\n<conversation>…</conversation>' },
      { role: 'user', content: 'Please summarize the conversation history provided in the system prompt.' },
    ],
  },
  naming: {
    model: 'anthropic/claude-sonnet-4',
    messages: [
      { role: 'system', content: 'Generate a short title (four words or less) for this conversation.\n\nTitle what the work is ABOUT…' },
      { role: 'user', content: '---BEGIN USER MESSAGES---\nhow do I reverse a list in python?\n---END USER MESSAGES---' },
    ],
    max_tokens: 4096,
  },
  permission: {
    model: 'anthropic/claude-sonnet-4',
    messages: [{ role: 'system', content: 'You are a good analyst…' }, { role: 'user', content: 'Check the tools' }],
    tools: [{ type: 'function', function: { name: 'platform__tool_by_tool_permission', description: 'x', parameters: { type: 'object' } } }],
  },
} satisfies Record<string, JsonObject>;
