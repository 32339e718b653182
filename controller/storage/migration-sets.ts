/**
 * Every module's migrations, merged into the one set the Migrator runs. To add tables, write a
 * `migrations.ts` in your module exporting a `Record<string, Migration>` and add it here.
 */
import type { Migration } from 'kysely';
import { coreMigrations } from './migrations.js';
import { auditMigrations } from '../audit/migrations.js';
import { bundleMigrations } from '../bundles/migrations.js';
import { oidcMigrations } from '../auth/oidc/migrations.js';
import { meshMigrations } from '../mesh/migrations.js';
import { authMigrations } from '../auth/migrations.js';
import { profileMigrations } from '../profiles/migrations.js';
import { a2aMigrations } from '../a2a/migrations.js';
import { ledgerMigrations } from '../ledger/migrations.js';

export const migrationSets: ReadonlyArray<Record<string, Migration>> = [coreMigrations, auditMigrations, bundleMigrations, oidcMigrations, meshMigrations, authMigrations, profileMigrations, a2aMigrations, ledgerMigrations];
