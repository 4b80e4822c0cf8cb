// pg_dump and pg_restore as child processes of the worker: started against the tenant server as
// the tenant admin (its password in the environment, not on the command line), their stderr kept
// (the last ~2 KB) for the error, their failures classified as the activities report them.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { Config } from '../domain/config';
import { errorTypes, permanent } from './errors';

const stderrTailBytes = 2048;

export interface ToolExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The process could not be started at all. */
  error?: Error;
}

export interface Tool {
  name: string;
  child: ChildProcess;
  /** Settles once the process has ended and its output is read. */
  exited: Promise<ToolExit>;
  /** The last ~2 KB it wrote to stderr. */
  stderr(): string;
  kill(): void;
}

export const succeeded = (exit: ToolExit) => exit.code === 0 && !exit.error;

/** `<admin URL>` pointed at `database`, its password moved to the environment (not the command line, which `ps` shows). */
export function toolConnection(adminUrl: string, database: string): { dbname: string; env: NodeJS.ProcessEnv } {
  const admin = new URL(adminUrl);
  const url = new URL(`postgresql://${admin.host}`);
  url.username = admin.username;
  url.pathname = `/${encodeURIComponent(database)}`;
  // Only what libpq understands; anything else in the URL is the Node client's.
  for (const param of ['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'sslcrl', 'connect_timeout']) {
    const value = admin.searchParams.get(param);
    if (value !== null) url.searchParams.set(param, value);
  }
  const env: NodeJS.ProcessEnv = { ...process.env, PGAPPNAME: 'shipyard-backup', PGCONNECT_TIMEOUT: process.env.PGCONNECT_TIMEOUT ?? '15' };
  if (admin.password) env.PGPASSWORD = decodeURIComponent(admin.password);
  return { dbname: url.toString(), env };
}

export function startTool(config: Pick<Config, 'pgBinDir'>, name: 'pg_dump' | 'pg_restore', args: string[], env: NodeJS.ProcessEnv, stdin: 'pipe' | 'ignore'): Tool {
  const path = config.pgBinDir ? join(config.pgBinDir, name) : name;
  const child = spawn(path, args, { env, stdio: [stdin, name === 'pg_dump' ? 'pipe' : 'ignore', 'pipe'] });
  let tail = Buffer.alloc(0);
  child.stderr!.on('data', (chunk: Buffer) => {
    tail = Buffer.concat([tail, chunk]);
    if (tail.length > 2 * stderrTailBytes) tail = tail.subarray(tail.length - stderrTailBytes);
  });
  const exited = new Promise<ToolExit>((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  return {
    name,
    child,
    exited,
    stderr: () => {
      const text = tail.subarray(Math.max(0, tail.length - stderrTailBytes)).toString('utf8').trim();
      return tail.length > stderrTailBytes ? `…${text}` : text;
    },
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    },
  };
}

/** Why a pg_dump or pg_restore run failed, as the error the activity throws. */
export function toolFailure(tool: Tool, exit: ToolExit, doing: string, config: Pick<Config, 'pgBinDir'>): Error {
  if (exit.error) {
    const where = config.pgBinDir ? `in SHIPYARD_PG_BIN_DIR (${config.pgBinDir})` : 'on PATH (set SHIPYARD_PG_BIN_DIR)';
    const missing = (exit.error as { code?: string }).code === 'ENOENT';
    const message = `could not ${doing}: ${tool.name} ${missing ? `not found ${where}` : `did not start: ${exit.error.message}`}`;
    return missing ? permanent(message, errorTypes.missingDependency, exit.error) : new Error(message, { cause: exit.error });
  }
  const stderr = tool.stderr();
  const message = `could not ${doing}: ${tool.name} exited with ${exit.code ?? exit.signal}${stderr ? `: ${stderr}` : ''}`;
  if (/server version mismatch|unsupported version .* in file header/.test(stderr)) {
    return permanent(`${message} (SHIPYARD_PG_BIN_DIR must hold the tenant server's major version or newer)`, errorTypes.missingDependency);
  }
  if (/(database|role) "[^"]+" does not exist/.test(stderr)) return permanent(message, errorTypes.backupSourceMissing);
  // A statement of an intact dump failed on a healthy server: the same restore will fail again.
  if (/could not execute query: ERROR:/.test(stderr)) return permanent(message, errorTypes.backupNotUsable);
  return new Error(message);
}

/** Writes chunks to a child's stdin at its pace; once the child stops reading, further chunks are dropped. */
export function stdinSink(tool: Tool): (chunk: Buffer) => Promise<void> {
  const stdin = tool.child.stdin as Writable;
  let open = true;
  stdin.on('error', () => (open = false)); // EPIPE: it stopped reading (and will say why on exit)
  void tool.exited.then(() => (open = false));
  return async (chunk) => {
    if (!open || stdin.destroyed) return;
    if (stdin.write(chunk)) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        stdin.off('drain', done);
        stdin.off('close', done);
        stdin.off('error', done);
        resolve();
      };
      stdin.on('drain', done);
      stdin.on('close', done);
      stdin.on('error', done);
      void tool.exited.then(done);
    });
  };
}
