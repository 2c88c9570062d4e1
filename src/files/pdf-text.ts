import { Worker } from 'node:worker_threads';
import { ParseError } from './document';

/**
 * pdf.js (through unpdf) runs in a worker thread: parsing a large PDF is CPU
 * work that would otherwise starve the activity's heartbeats, and pdf.js is an
 * ES module that a thread loads natively whatever loader the host runs under
 * (tsx, jest). One thread serves every request of the process, one at a time.
 */
const WORKER_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const unpdf = require(workerData.unpdf);
parentPort.on('message', async ({ id, data }) => {
  try {
    const pdf = await unpdf.getDocumentProxy(new Uint8Array(data), { verbosity: 0 });
    const { totalPages, text } = await unpdf.extractText(pdf, { mergePages: false });
    await pdf.destroy();
    parentPort.postMessage({ id, totalPages, pages: text });
  } catch (err) {
    parentPort.postMessage({ id, error: String((err && err.message) || err) });
  }
});
`;

interface Reply {
  id: number;
  totalPages?: number;
  pages?: string[];
  error?: string;
}

let worker: Worker | undefined;
let nextId = 0;
const pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();

function thread(): Worker {
  if (worker) return worker;
  const w = new Worker(WORKER_CODE, {
    eval: true,
    workerData: { unpdf: require.resolve('unpdf') },
  });
  w.on('message', (reply: Reply) => {
    const waiter = pending.get(reply.id);
    pending.delete(reply.id);
    if (pending.size === 0) w.unref();
    waiter?.resolve(reply);
  });
  const fail = (err: Error) => {
    if (worker === w) worker = undefined;
    for (const waiter of pending.values()) waiter.reject(err);
    pending.clear();
  };
  w.on('error', fail);
  w.on('exit', (code) => fail(new Error(`the PDF thread exited (${code})`)));
  w.unref();
  worker = w;
  return w;
}

/**
 * The text of each page of a PDF.
 * @throws ParseError `invalid_pdf` when pdf.js cannot read it.
 */
export async function extractPdfPages(data: Buffer): Promise<string[]> {
  const w = thread();
  const id = nextId++;
  w.ref();
  const reply = await new Promise<Reply>((resolve, reject) => {
    pending.set(id, { resolve, reject });
    // Copy: the caller's buffer may be a view into a pooled ArrayBuffer.
    w.postMessage({ id, data: Uint8Array.from(data) });
  });
  if (reply.error !== undefined)
    throw new ParseError('invalid_pdf', `the PDF could not be read: ${reply.error}`);
  return reply.pages ?? [];
}

/** Stop the PDF thread (tests, shutdown); a later call starts a new one. */
export async function stopPdfThread(): Promise<void> {
  const w = worker;
  worker = undefined;
  await w?.terminate();
}
