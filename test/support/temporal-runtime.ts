// The Temporal runtime of a test process that runs a worker in itself, logging errors only
// (SHIPYARD_TEST_VERBOSE=1 for everything). Imported for its effect by those files alone: loading
// @temporalio/worker costs a test process most of a CPU-second, which the files that only talk to
// Temporal, or start Shipyard as processes, need not pay.
import { DefaultLogger, Runtime } from '@temporalio/worker';

const level = process.env.SHIPYARD_TEST_VERBOSE ? 'INFO' : 'ERROR';
Runtime.install({
  logger: new DefaultLogger(level),
  // The core's own log goes through the same logger; left to itself it prints its warnings
  // straight to stderr (over a thousand lines a run, e.g. each heartbeat of a test activity that
  // waits to be cancelled while running as a local activity).
  telemetryOptions: { logging: { filter: { core: level, other: 'ERROR' }, forward: {} } },
});
