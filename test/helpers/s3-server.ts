import { rm } from 'node:fs/promises';
import S3rver from 's3rver';

/** Credentials s3rver checks signatures against. */
export const S3_TEST_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
export const S3_TEST_BUCKET = 'reverie-test';

export interface S3TestServer {
  endpoint: string;
  close(): Promise<void>;
}

/** A real S3-protocol server (s3rver) on 127.0.0.1, port 0, storing under `directory`. */
export async function startS3Server(directory: string): Promise<S3TestServer> {
  await rm(directory, { recursive: true, force: true });
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: S3_TEST_BUCKET, configs: [] }],
  });
  const address = await server.run();
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    async close() {
      await server.close();
    },
  };
}

/** Environment that points a platform's blob store at the run's s3rver. */
export function s3TestEnv(prefix: string): Record<string, string> {
  const endpoint = process.env.S3_ENDPOINT_TEST;
  if (!endpoint)
    throw new Error(
      'S3_ENDPOINT_TEST is not set: run through jest (test/setup/global-setup.ts starts s3rver)',
    );
  return {
    BLOB_DRIVER: 's3',
    S3_ENDPOINT: endpoint,
    S3_BUCKET: S3_TEST_BUCKET,
    S3_PREFIX: prefix,
    S3_FORCE_PATH_STYLE: 'true',
    S3_ACCESS_KEY_ID: S3_TEST_CREDENTIALS.accessKeyId,
    S3_SECRET_ACCESS_KEY: S3_TEST_CREDENTIALS.secretAccessKey,
  };
}
