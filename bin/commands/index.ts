/** Every command group, in the order `switchboard --help` lists them. One file per group. */
import type { Command } from 'commander';
import { registerUpCommand } from './up.js';
import { registerGatewayCommands } from './gateway.js';
import { registerConfigCommands } from './config.js';
import { registerRulesCommands } from './rules.js';
import { registerModelsCommands } from './models.js';
import { registerUsageCommand } from './usage.js';
import { registerControllerCommands } from './controller.js';
import { registerGuardCommands } from './guard.js';
import { registerAuditCommands } from './audit.js';
import { registerEnrolCommand } from './enrol.js';
import { registerLoginCommands } from './login.js';
import { registerSecretsCommands } from './secrets.js';
import { registerGooseCommands } from './goose.js';
import { registerServiceCommands } from './service.js';
import { registerDoctorCommand } from './doctor.js';
import { registerAgentCommand } from './agent.js';
import { registerMeshCommands } from './mesh.js';
import { registerDemoCommand } from './demo.js';

export const commandGroups: Array<(program: Command) => void> = [
  registerUpCommand,
  registerGatewayCommands,
  registerConfigCommands,
  registerModelsCommands,
  registerUsageCommand,
  registerRulesCommands,
  registerControllerCommands,
  registerGuardCommands,
  registerAuditCommands,
  registerEnrolCommand,
  registerLoginCommands,
  registerSecretsCommands,
  registerGooseCommands,
  registerServiceCommands,
  registerDoctorCommand,
  registerAgentCommand,
  registerMeshCommands,
  registerDemoCommand,
];
