// Config for tests: the testbed's variables (exported by globalSetup) plus per-file overrides,
// e.g. a task queue of its own so files running side by side never take each other's tasks.
import { randomBytes } from 'node:crypto';
import { type Config, loadConfig } from '../../domain/config';

export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({ ...process.env, ...overrides });
}

/** A short random suffix for names that must not collide across runs and files. */
export function uniqueSuffix(): string {
  return randomBytes(3).toString('hex');
}
