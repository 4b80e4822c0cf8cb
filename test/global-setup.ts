// Brings the real local parts up once for the whole run and hands their addresses to the
// test processes through the environment (forks inherit it); makes the production build the
// end-to-end tests run, meanwhile.
import { ensureBinary } from '../testbed/components/kubernetes';
import { infraUp } from '../testbed/index';
import { buildForTests } from './support/build';

export default async function setup(): Promise<void> {
  let env: Record<string, string>;
  try {
    // helm (for the chart tests) is built with the testbed's Kubernetes binaries, by infraUp here
    // or by an `infra:up` already under way (whose lock infraUp waits for).
    const testbed = async () => {
      const up = await infraUp();
      await ensureBinary('helm', (m) => console.log(`[helm] ${m}`), 'helm');
      return up;
    };
    [env] = await Promise.all([testbed(), buildForTests()]);
  } catch (err) {
    // vitest would otherwise report only "no test files found" and hide which part broke.
    console.error(`\nThe testbed did not come up, so no test can run:\n${err instanceof Error ? err.message : String(err)}\n`);
    throw err;
  }
  for (const [key, value] of Object.entries(env)) {
    process.env[key] ??= value;
  }
  // A test that deletes an instance expects it purged (after its final backup); the tests of the
  // grace period itself set a grace of their own.
  process.env.SHIPYARD_DELETE_GRACE_HOURS ??= '0';
}
