import { open } from 'node:fs/promises';

/**
 * The last `maxBytes` of a file as text ('' when it does not exist), used to
 * put a server's own words into our start-up errors.
 */
export async function readTail(file: string, maxBytes = 4000): Promise<string> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch {
    return '';
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, maxBytes);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return buffer.toString('utf8').trim();
  } finally {
    await handle.close();
  }
}
