// Setup file of the testbed projects: the Temporal runtime of a test process, logging errors only
// (SHIPYARD_TEST_VERBOSE=1 for everything), installed in one place rather than by each file that
// runs a worker. The runtime is a process-wide singleton that can be installed once.
import { IllegalStateError } from '@temporalio/common';
import { DefaultLogger, Runtime } from '@temporalio/worker';

try {
  Runtime.install({ logger: new DefaultLogger(process.env.SHIPYARD_TEST_VERBOSE ? 'INFO' : 'ERROR') });
} catch (err) {
  if (!(err instanceof IllegalStateError)) throw err;
}
