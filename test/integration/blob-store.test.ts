import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import {
  BlobNotFoundError,
  FsBlobStore,
  readBlob,
  S3BlobStore,
  type BlobStore,
} from '../../src/blob';
import { S3_TEST_BUCKET, S3_TEST_CREDENTIALS } from '../helpers/s3-server';

/** Bytes `size` long, deterministic, yielded in 64 KiB pieces (a stream, never one buffer). */
function streamOf(size: number, failAt?: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (failAt !== undefined && sent >= failAt) {
        this.destroy(new Error('client went away'));
        return;
      }
      if (sent >= size) {
        this.push(null);
        return;
      }
      const n = Math.min(64 * 1024, size - sent);
      const piece = Buffer.alloc(n);
      for (let i = 0; i < n; i++) piece[i] = (sent + i) % 251;
      sent += n;
      this.push(piece);
    },
  });
}

function expected(size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = i % 251;
  return out;
}

function s3Store(prefix: string): S3BlobStore {
  return new S3BlobStore({
    bucket: S3_TEST_BUCKET,
    prefix,
    endpoint: process.env.S3_ENDPOINT_TEST,
    region: 'us-east-1',
    forcePathStyle: true,
    ...S3_TEST_CREDENTIALS,
    partSize: 5 * 1024 * 1024,
  });
}

const drivers: [string, () => Promise<{ store: BlobStore; cleanup: () => Promise<void> }>][] = [
  [
    'fs',
    async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'reverie-blobs-'));
      return {
        store: new FsBlobStore(dir),
        cleanup: () => rm(dir, { recursive: true, force: true }),
      };
    },
  ],
  [
    's3',
    async () => ({ store: s3Store(`blob-test-${randomUUID()}/`), cleanup: async () => undefined }),
  ],
];

describe.each(drivers)('%s blob store', (_name, make) => {
  let store: BlobStore;
  let cleanup: () => Promise<void>;
  beforeAll(async () => ({ store, cleanup } = await make()));
  afterAll(() => cleanup());

  it('stores, reads back and deletes a small object', async () => {
    const put = await store.put(
      'a/small',
      Readable.from([Buffer.from('hello '), Buffer.from('world')]),
    );
    expect(put).toMatchObject({ key: 'a/small', size: 11 });
    expect(put.sha256).toBe('b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9');
    expect((await readBlob(store, 'a/small')).toString()).toBe('hello world');
    await store.delete('a/small');
    await expect(store.get('a/small')).rejects.toBeInstanceOf(BlobNotFoundError);
    await store.delete('a/small'); // deleting twice is fine
  });

  it('streams a large object through (multipart on S3) byte for byte', async () => {
    const size = 12 * 1024 * 1024 + 123;
    const put = await store.put('big/one', streamOf(size));
    expect(put.size).toBe(size);
    const back = await readBlob(store, 'big/one');
    expect(back.equals(expected(size))).toBe(true);
    await store.delete('big/one');
  });

  it('leaves nothing behind when the body fails midway', async () => {
    await expect(
      store.put('broken/one', streamOf(12 * 1024 * 1024, 6 * 1024 * 1024)),
    ).rejects.toThrow('client went away');
    await expect(store.get('broken/one')).rejects.toBeInstanceOf(BlobNotFoundError);
  });

  it('passes its readiness check', async () => {
    await expect(store.check()).resolves.toBeUndefined();
  });
});

describe('s3 driver details', () => {
  it('uploads large bodies in parts, aborts a failed one, and writes under its prefix', async () => {
    const prefix = `prefix-test-${randomUUID()}/`;
    const store = s3Store(prefix);
    const sent: string[] = [];
    const send = store.client.send.bind(store.client);
    jest.spyOn(store.client, 'send').mockImplementation(((command: {
      constructor: { name: string };
    }) => {
      sent.push(command.constructor.name);
      return send(command as never);
    }) as never);
    await store.put('big', streamOf(12 * 1024 * 1024));
    expect(sent).toEqual([
      'CreateMultipartUploadCommand',
      'UploadPartCommand',
      'UploadPartCommand',
      'UploadPartCommand',
      'CompleteMultipartUploadCommand',
    ]);
    sent.length = 0;
    await expect(store.put('x', streamOf(11 * 1024 * 1024, 6 * 1024 * 1024))).rejects.toThrow();
    expect(sent).toEqual([
      'CreateMultipartUploadCommand',
      'UploadPartCommand',
      'AbortMultipartUploadCommand',
    ]);
    await store.delete('big');
    await store.put('y', Readable.from([Buffer.from('ok')]));
    const listed = await store.client.send(
      new ListObjectsV2Command({ Bucket: S3_TEST_BUCKET, Prefix: prefix }),
    );
    expect((listed.Contents ?? []).map((o) => o.Key)).toEqual([`${prefix}y`]);
  });

  it('fs driver leaves no temporary files after a failed write', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'reverie-blobs-'));
    const store = new FsBlobStore(dir);
    await expect(store.put('d/x', streamOf(1024 * 1024, 256 * 1024))).rejects.toThrow();
    expect(await readdir(path.join(dir, 'd'))).toEqual([]);
    await rm(dir, { recursive: true, force: true });
  });
});
