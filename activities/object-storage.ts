// Backup objects in S3, streamed: nothing here holds a whole object in memory (but for the small
// ones put from a buffer). Every byte that goes up or comes down passes a SHA-256 and a count, so
// what was written can be recorded, and what is read checked against that record.
import { Upload } from '@aws-sdk/lib-storage';
import { createHash, type Hash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { Config } from '../domain/config';
import { errorTypes, isS3NotFound, permanent, s3Error } from './errors';

/**
 * Multipart uploads (lib-storage's Upload): parts of at least this size, this many on their way at
 * once. Upload copies each part as it cuts it and leaves the copies to the garbage collector, so the
 * worker grows by a few times (queue + 1) × part size while a dump goes up: S3's smallest part and
 * a queue of four kept that to 36 MiB, within the 64 MB a backup may add to the worker, at 57 MB/s
 * of database (8 MiB parts: 80 MiB; `npm run bench:backup`). A database so large that its dump
 * would not fit in S3's 10,000 parts gets larger parts (partSizeFor).
 */
export const uploadPartSize = 5 * 1024 * 1024;
export const uploadQueueSize = 4;
/** S3's limit on the parts of one upload. */
const maxParts = 10_000;

export interface ObjectStorage {
  s3: S3Client;
  config: Pick<Config, 's3Endpoint'>;
}

export interface Digest {
  sizeBytes: number;
  /** Hex SHA-256 of the bytes. */
  sha256: string;
}

export const objectUrl = (bucket: string, key: string): string => `s3://${bucket}/${key}`;

const fail = (storage: ObjectStorage, action: string, err: unknown) => s3Error(action, err, storage.config.s3Endpoint);

/**
 * Passes bytes through unchanged, hashing and counting them. `beforeEnd` runs once the input has
 * ended and before the output does: a throw there fails the stream instead of ending it, so a
 * reader (an upload) never takes a truncated input for a whole one.
 */
export class DigestStream extends Transform {
  private readonly hash: Hash = createHash('sha256');
  bytes = 0;

  constructor(private readonly beforeEnd?: () => Promise<void>) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (!this.beforeEnd) return callback();
    this.beforeEnd().then(
      () => callback(),
      (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
    );
  }

  /** Only once the stream has ended. */
  digest(): Digest {
    return { sizeBytes: this.bytes, sha256: this.hash.digest('hex') };
  }
}

export function digestOf(bytes: Uint8Array): Digest {
  return { sizeBytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/**
 * The part size for an upload of about `expectedBytes` (unknown: 0): the default, or larger when
 * that many bytes would not fit in S3's 10,000 parts (with room for the guess to be 50 % short).
 */
export function partSizeFor(expectedBytes: number): number {
  const needed = Math.ceil((expectedBytes * 1.5) / maxParts / 2 ** 20) * 2 ** 20;
  return Math.max(uploadPartSize, needed);
}

/**
 * Uploads `body` (of unknown length) as a multipart upload with `@aws-sdk/lib-storage` (an input
 * smaller than a part goes up as one PutObject). The body is read only as fast as parts go up: at
 * most `uploadQueueSize` parts in flight and one filling. When the body fails (a dump that failed),
 * or S3 does, or `signal` aborts, the upload is aborted and nothing is left at `key`; the body's own
 * error is thrown as it is.
 */
export async function uploadStream(
  storage: ObjectStorage,
  bucket: string,
  key: string,
  body: Readable,
  options: { signal: AbortSignal; partSize?: number },
): Promise<void> {
  const upload = new Upload({
    client: storage.s3,
    params: { Bucket: bucket, Key: key, Body: body, ContentType: 'application/octet-stream' },
    partSize: options.partSize ?? uploadPartSize,
    queueSize: uploadQueueSize,
    leavePartsOnError: false,
  });
  const abort = () => void upload.abort();
  options.signal.addEventListener('abort', abort);
  try {
    if (options.signal.aborted) abort();
    await upload.done();
  } catch (err) {
    // The body's own failure (a dump that failed) is the news, not the upload it ended.
    if (body.errored) throw body.errored;
    throw fail(storage, `upload ${objectUrl(bucket, key)}`, err);
  } finally {
    options.signal.removeEventListener('abort', abort);
  }
}

/** A small object from memory; returns what was written. */
export async function putObject(storage: ObjectStorage, bucket: string, key: string, bytes: Uint8Array, contentType: string): Promise<Digest> {
  try {
    await storage.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, ContentType: contentType }));
  } catch (err) {
    throw fail(storage, `upload ${objectUrl(bucket, key)}`, err);
  }
  return digestOf(bytes);
}

/** The object's bytes as a stream, or undefined when there is no such object. */
export async function readObject(storage: ObjectStorage, bucket: string, key: string, signal?: AbortSignal): Promise<Readable | undefined> {
  try {
    const answer = await storage.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }), signal ? { abortSignal: signal } : {});
    return answer.Body as Readable;
  } catch (err) {
    if (isS3NotFound(err)) return undefined;
    throw fail(storage, `read ${objectUrl(bucket, key)}`, err);
  }
}

/** Reads a whole (small) object; undefined when there is none. */
export async function readSmallObject(storage: ObjectStorage, bucket: string, key: string): Promise<Buffer | undefined> {
  const body = await readObject(storage, bucket, key);
  if (!body) return undefined;
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of body) chunks.push(chunk as Buffer);
  } catch (err) {
    throw fail(storage, `read ${objectUrl(bucket, key)}`, err);
  }
  return Buffer.concat(chunks);
}

/**
 * Streams an object through SHA-256 without keeping it; `onBytes` sees the running count. Each
 * chunk is also handed to `sink` when given (which may wait, to slow the read down to its pace).
 * Undefined when there is no such object.
 */
export async function digestObject(
  storage: ObjectStorage,
  bucket: string,
  key: string,
  options: { signal?: AbortSignal; onBytes?: (bytes: number) => void; sink?: (chunk: Buffer) => Promise<void> | void } = {},
): Promise<Digest | undefined> {
  const body = await readObject(storage, bucket, key, options.signal);
  if (!body) return undefined;
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    for await (const chunk of body) {
      const buffer = chunk as Buffer;
      hash.update(buffer);
      bytes += buffer.length;
      options.onBytes?.(bytes);
      if (options.sink) await options.sink(buffer);
    }
  } catch (err) {
    body.destroy();
    throw fail(storage, `read ${objectUrl(bucket, key)}`, err);
  }
  return { sizeBytes: bytes, sha256: hash.digest('hex') };
}

/** The incomplete multipart uploads under `prefix`, a page at a time. */
export async function* uploadsUnder(storage: ObjectStorage, bucket: string, prefix: string): AsyncGenerator<{ key: string; uploadId: string }[]> {
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (;;) {
    let page;
    try {
      page = await storage.s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }));
    } catch (err) {
      throw fail(storage, `list multipart uploads under ${objectUrl(bucket, prefix)}`, err);
    }
    yield (page.Uploads ?? []).flatMap((u) => (u.Key && u.UploadId ? [{ key: u.Key, uploadId: u.UploadId }] : []));
    if (!page.IsTruncated) return;
    keyMarker = page.NextKeyMarker;
    uploadIdMarker = page.NextUploadIdMarker;
  }
}

/** Aborts every incomplete multipart upload under `prefix` (one already gone is no error); returns how many it aborted. */
export async function abortUploadsUnder(storage: ObjectStorage, bucket: string, prefix: string): Promise<number> {
  let aborted = 0;
  for await (const uploads of uploadsUnder(storage, bucket, prefix)) {
    for (const { key, uploadId } of uploads) {
      try {
        await storage.s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
        aborted++;
      } catch (err) {
        if (!isS3NotFound(err)) throw fail(storage, `abort multipart upload of ${objectUrl(bucket, key)}`, err);
      }
    }
  }
  return aborted;
}

/** Every key under `prefix`, a page at a time. */
export async function* keysUnder(storage: ObjectStorage, bucket: string, prefix: string): AsyncGenerator<string[]> {
  let token: string | undefined;
  do {
    let page;
    try {
      page = await storage.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    } catch (err) {
      throw fail(storage, `list ${objectUrl(bucket, prefix)}`, err);
    }
    yield (page.Contents ?? []).flatMap((o) => (o.Key ? [o.Key] : []));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

/** Deletes every object under `prefix`; absent objects are no error. Returns how many were deleted. */
export async function deleteObjectsUnder(storage: ObjectStorage, bucket: string, prefix: string): Promise<number> {
  let deleted = 0;
  for await (const keys of keysUnder(storage, bucket, prefix)) {
    if (keys.length === 0) continue;
    let answer;
    try {
      answer = await storage.s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }));
    } catch (err) {
      throw fail(storage, `delete objects under ${objectUrl(bucket, prefix)}`, err);
    }
    const failed = (answer.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
    if (failed.length > 0) {
      const first = failed[0]!;
      throw new Error(`could not delete ${failed.length} objects under ${objectUrl(bucket, prefix)}: ${first.Key}: ${first.Code} ${first.Message ?? ''}`.trim());
    }
    deleted += keys.length;
  }
  return deleted;
}
