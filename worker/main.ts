// `tsx worker/main.ts`: runs the worker until SIGINT/SIGTERM, then drains and exits.
import { loadConfig } from '../domain/config';
import { connectActivityDeps, createActivities, createWorker } from './index';
import { ensureSchedules } from './schedules';

const config = loadConfig(process.env);
const deps = await connectActivityDeps(config);
await ensureSchedules(deps.temporal, config);
const { worker, connection } = await createWorker(config, createActivities(deps));
console.log(`worker: polling task queue "${config.taskQueue}" on ${config.temporalAddress}`);
try {
  // Worker.run installs its own SIGINT/SIGTERM handlers that start a graceful shutdown.
  await worker.run();
} finally {
  await connection.close();
  await deps.close();
}
