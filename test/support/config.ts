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

/**
 * Rate limits no test reaches: tests hammer the API (polling, concurrent requests, the contract
 * fuzzer) far beyond a production key's minute. The test of the limits sets low ones of its own.
 */
export const testRateLimits = {
  SHIPYARD_RATE_LIMIT_VIEWER: '1000000',
  SHIPYARD_RATE_LIMIT_OPERATOR: '1000000',
  SHIPYARD_RATE_LIMIT_ADMIN: '1000000',
} as const;
