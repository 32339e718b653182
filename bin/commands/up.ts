/**
 * `switchboard up`: the one-command start on embedded defaults (what `npm start` runs).
 * Gateway on 127.0.0.1:8787; with no cloud key it answers through the offline demo upstream.
 */
import type { Command } from 'commander';
import { addDataDirOption } from '../cli-support.js';
import { addGatewayFlags } from './gateway.js';
import { runGateway, stopOnSignals, type GatewayFlags } from '../run-gateway.js';

export function registerUpCommand(program: Command): void {
  addDataDirOption(
    addGatewayFlags(
      program
        .command('up')
        .description('Start Switchboard on embedded defaults (SQLite, generated local keys); no cloud key needed for the demo'),
    ),
  ).action(async (flags: GatewayFlags) => {
    const running = await runGateway(flags, { demoWhenNoKey: true });
    const token = running.server.services.localToken;
    process.stderr.write(
      [
        '',
        `Switchboard gateway: ${running.url}${running.demo ? '   (offline demo upstream: set OPENROUTER_API_KEY for real models)' : ''}`,
        `Local token:         ${token}`,
        'Try it:',
        `  curl -si ${running.url}/v1/chat/completions -H "Authorization: Bearer ${token}" \\`,
        `    -H "Content-Type: application/json" -d '{"model":"anthropic/claude-sonnet-4","messages":[{"role":"user","content":"Mail jane.doe@acme.com about invoice 42"}]}'`,
        ...(running.demo ? ['  (the x-switchboard-demo-received header shows what the model received after masking)'] : []),
        'Point Goose at it: see README.md ("Use it from Goose").',
        '',
      ].join('\n'),
    );
    stopOnSignals(running.stop);
  });
}
