// Setup file of the testbed projects: the Temporal runtime of a test process (each file has a
// process of its own), logging errors only (SHIPYARD_TEST_VERBOSE=1 for everything), installed in
// one place rather than by each file that runs a worker.
import { DefaultLogger, Runtime } from '@temporalio/worker';

Runtime.install({ logger: new DefaultLogger(process.env.SHIPYARD_TEST_VERBOSE ? 'INFO' : 'ERROR') });
