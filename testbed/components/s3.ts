// An S3 API for tenant backups: moto's own server (`python -m moto.server`) from the virtualenv
// the Route 53 component caches, as a process of its own beside the Route 53 one. That one runs
// through moto_server.py, which answers one request at a time; here the threaded server takes
// the parts of a multipart upload side by side. The bucket SHIPYARD_BACKUP_BUCKET
// (`shipyard-backups`) is made at start-up.
//
// moto keeps S3 in the memory of that process: buckets, keys and metadata live in Python
// objects, and a body larger than about 5 MB (MOTO_S3_DEFAULT_KEY_BUFFER_SIZE) spills into an
// unlinked temporary file under TMPDIR that disappears with the process. Nothing is recorded or
// replayed: a testbed restart (`infra:down` + `infra:up`, a reboot) loses every backup object,
// and the bucket is made again empty. The catalogue rows that name those objects then point at
// nothing, and Shipyard's backup sweep repairs them.
import { CreateBucketCommand, HeadBucketCommand, ListBucketsCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import {
  assertPortFree,
  type Component,
  daemonRunning,
  logFileFor,
  portFromEnv,
  portOpen,
  startDaemon,
  stopDaemon,
  TestbedError,
  waitFor,
} from '../runtime';
import { DUMMY_CREDENTIALS, ensureMotoVenv, MOTO_VERSION, motoPython, REGION } from './route53';

const NAME = 's3';
const PORT_VAR = 'SHIPYARD_S3_PORT';
const BUCKET_VAR = 'SHIPYARD_BACKUP_BUCKET';
const DEFAULT_BUCKET = 'shipyard-backups';
/**
 * moto completes a multipart upload by joining every part in memory (two to three copies of the
 * object at once: a 600 MB backup took the process to about 1.5 GB for two seconds). With glibc's
 * defaults those buffers land in per-thread arenas and much of them is kept after they are freed
 * (360-710 MB left after each 600 MB upload); a fixed mmap threshold hands them back to the
 * system when freed, and fewer arenas fragment less (140-290 MB left). Upload speed is the same.
 */
const MALLOC_ENV = { MALLOC_MMAP_THRESHOLD_: '131072', MALLOC_ARENA_MAX: '2' };

function port(): number {
  return portFromEnv(PORT_VAR, 15454);
}

function endpoint(): string {
  return `http://127.0.0.1:${port()}`;
}

function bucket(): string {
  return process.env[BUCKET_VAR] || DEFAULT_BUCKET;
}

function client(): S3Client {
  // Path-style addressing: virtual-host style would need <bucket>.127.0.0.1 to resolve.
  return new S3Client({ endpoint: endpoint(), region: REGION, credentials: DUMMY_CREDENTIALS, forcePathStyle: true, maxAttempts: 1 });
}

async function apiAnswers(): Promise<boolean> {
  const s3 = client();
  try {
    await s3.send(new ListBucketsCommand({}));
    return true;
  } finally {
    s3.destroy();
  }
}

/** HeadBucket, then CreateBucket when it is absent; a create that finds it already ours is done too. */
async function ensureBucket(say: (m: string) => void): Promise<void> {
  const name = bucket();
  const s3 = client();
  try {
    try {
      await s3.send(new HeadBucketCommand({ Bucket: name }));
      return;
    } catch (err) {
      if (!(err instanceof S3ServiceException && (err.name === 'NotFound' || err.$metadata.httpStatusCode === 404))) throw err;
    }
    say(`creating the bucket ${name}`);
    try {
      await s3.send(new CreateBucketCommand({ Bucket: name }));
    } catch (err) {
      if (!(err instanceof S3ServiceException && err.name === 'BucketAlreadyOwnedByYou')) throw err;
    }
  } catch (err) {
    throw new TestbedError(NAME, `could not make the bucket ${name}: ${err instanceof Error ? err.message : String(err)}`, undefined, logFileFor(NAME));
  } finally {
    s3.destroy();
  }
}

function variables(): Record<string, string> {
  return { SHIPYARD_S3_ENDPOINT: endpoint(), [BUCKET_VAR]: bucket() };
}

export const s3: Component = {
  name: NAME,
  providedBy: ['SHIPYARD_S3_ENDPOINT'],
  alsoFromOutside: [BUCKET_VAR],

  async up(ctx) {
    const logFile = logFileFor(NAME);
    if (daemonRunning(NAME)) {
      ctx.say(`already running at ${endpoint()}; checking it`);
      await waitFor(NAME, `the S3 API at ${endpoint()}`, apiAnswers, { timeoutMs: 15_000, daemon: NAME, logFile });
    } else {
      await assertPortFree(NAME, port(), PORT_VAR);
      await ensureMotoVenv(ctx.say);
      ctx.say(`starting moto ${MOTO_VERSION} at ${endpoint()} (objects are kept in memory only: a restart loses them)`);
      startDaemon(NAME, motoPython, ['-m', 'moto.server', '--host', '127.0.0.1', '--port', String(port())], {
        logFile,
        env: { ...process.env, ...MALLOC_ENV },
      });
      await waitFor(NAME, `the S3 API at ${endpoint()}`, apiAnswers, { timeoutMs: 60_000, intervalMs: 250, daemon: NAME, logFile });
    }
    await ensureBucket(ctx.say);
    return variables();
  },

  async down() {
    await stopDaemon(NAME);
  },

  async status() {
    return {
      up: daemonRunning(NAME) && (await portOpen(port())),
      address: endpoint(),
      log: logFileFor(NAME),
    };
  },
};
