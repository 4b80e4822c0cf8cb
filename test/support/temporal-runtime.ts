// The Temporal runtime of a test process that runs a worker in itself, logging errors only
// (SHIPYARD_TEST_VERBOSE=1 for everything). Imported for its effect by those files alone: loading
// @temporalio/worker costs a test process most of a CPU-second, which the files that only talk to
// Temporal, or start Shipyard as processes, need not pay.
import { DefaultLogger, Runtime } from '@temporalio/worker';

Runtime.install({ logger: new DefaultLogger(process.env.SHIPYARD_TEST_VERBOSE ? 'INFO' : 'ERROR') });
