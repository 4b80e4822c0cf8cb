// `npm run dev`: the worker and the API against the testbed's `.shipyard/env`
// (variables already set in the environment win), until Ctrl-C.
import { migrateCatalogue } from '../db/migrate';
import { loadConfig } from '../domain/config';
import { readEnvFile } from '../testbed/index';
import { envFile } from '../testbed/runtime';
import { startProcess, waitForHttp } from './processes';

export function shipyardEnv(): NodeJS.ProcessEnv {
  return { ...readEnvFile(envFile), ...process.env };
}

/** Migrates the catalogue, then starts worker and API and waits until both are ready. */
export async function startShipyard(
  env: NodeJS.ProcessEnv,
  output: (name: 'worker' | 'api') => ((line: string) => void) | undefined = () => undefined,
  shipyard?: Parameters<typeof startProcess>[3],
) {
  const config = loadConfig(env);
  await migrateCatalogue(config.databaseUrl);
  const worker = startProcess('worker', env, output('worker'), shipyard);
  const api = startProcess('api', env, output('api'), shipyard);
  const baseUrl = `http://${config.apiHost}:${config.apiPort}`;
  const stop = async () => {
    await Promise.all([api.stop(), worker.stop()]);
  };
  try {
    // The worker answers /healthz once its schedules are ensured and it polls the task queue.
    await Promise.all([
      waitForHttp(`${baseUrl}/readyz`, 90_000, api),
      waitForHttp(`http://${config.workerMetricsHost}:${config.workerMetricsPort}/healthz`, 90_000, worker),
    ]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { config, worker, api, baseUrl, stop };
}

/** Stops both processes on Ctrl-C / SIGTERM, and exits when either dies on its own. */
export function superviseUntilSignal(
  shipyard: Awaited<ReturnType<typeof startShipyard>>,
  logHint: (name: string) => string = () => '',
): void {
  let stopping = false;
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await shipyard.stop();
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  for (const proc of [shipyard.worker, shipyard.api]) {
    void proc.exited.then((code) => {
      if (!stopping) {
        console.error(`${proc.name} exited unexpectedly (code ${code})${logHint(proc.name)}; stopping`);
        void shutdown(1);
      }
    });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const shipyard = await startShipyard(shipyardEnv());
  console.log(`Shipyard API on ${shipyard.baseUrl} (docs: ${shipyard.baseUrl}/docs). Ctrl-C stops.`);
  superviseUntilSignal(shipyard);
}
