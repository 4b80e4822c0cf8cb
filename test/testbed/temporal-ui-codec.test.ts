// The testbed's Temporal UI decodes through Shipyard's codec endpoint: a dev server started with
// the testbed's own arguments tells browsers (its settings API) to use the API's /codec. A second
// server of its own, on free ports and a throwaway database, so the shared one keeps running.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codecEndpointFor, devServerArgs, temporalCli, uiCodecEndpoint } from '../../testbed/components/temporal';
import { freePort } from '../support/stack';

const apiUrl = process.env.SHIPYARD_API_URL ?? 'http://127.0.0.1:8080';
let server: ChildProcess;
let exited: Promise<unknown>;
let stateDir: string;
let uiUrl: string;

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'shipyard-ui-codec-'));
  const [grpc, ui] = [await freePort(), await freePort()];
  uiUrl = `http://127.0.0.1:${ui}`;
  const binary = await temporalCli();
  server = spawn(binary, devServerArgs({ dbFile: join(stateDir, 'temporal.db'), grpc, ui, codecEndpoint: codecEndpointFor(apiUrl) }), {
    stdio: 'ignore',
  });
  exited = new Promise((resolve) => server.once('exit', resolve));
});
afterAll(async () => {
  if (server && server.exitCode === null && server.signalCode === null) {
    server.kill('SIGTERM');
    await exited;
  }
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

describe('the Temporal UI of the testbed', () => {
  it('names the API\'s codec endpoint in the settings it serves to browsers', async () => {
    await expect
      .poll(() => uiCodecEndpoint(uiUrl).catch((err: Error) => `not answering yet: ${err.message}`), { timeout: 90_000, interval: 250 })
      .toBe(`${apiUrl}/codec`);
  });
});
