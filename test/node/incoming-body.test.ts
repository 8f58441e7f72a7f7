import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, request, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, expect, test } from 'vitest';
import { incomingBody } from '../../src/node/incoming-body.ts';

const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let server: Server | undefined;
afterEach(() => {
  server?.closeAllConnections();
  server?.close();
  server = undefined;
});

/** A server on 127.0.0.1 that hands each request to `read` and answers 204 once it settles. */
async function serving(read: (req: IncomingMessage) => Promise<void>): Promise<number> {
  server = createServer((req, res) => {
    read(req).then(
      () => res.writeHead(204).end(),
      () => res.destroy(),
    );
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** Sends `chunks` one write at a time; resolves with the status, or rejects when the connection is cut. */
function upload(
  port: number,
  chunks: Buffer[],
  { end = true } = {},
): { done: Promise<number>; socket: Promise<Socket> } {
  const req = request({ port, host: '127.0.0.1', method: 'POST', path: '/' });
  const socket = new Promise<Socket>((resolve) => req.on('socket', resolve));
  const done = new Promise<number>((resolve, reject) => {
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
  });
  for (const chunk of chunks) req.write(chunk);
  if (end) req.end();
  return { done, socket };
}

/** Every chunk of the request body; with `slow`, the reader asks to wait after each and reads on a millisecond later. */
function readBody(req: IncomingMessage, { slow = false } = {}): Promise<Buffer[]> {
  const read: Buffer[] = [];
  const body = incomingBody(req);
  return new Promise((resolve, reject) =>
    body.read({
      data: (chunk) => {
        read.push(Buffer.from(chunk));
        if (!slow) return true;
        setTimeout(() => body.resume(), 1);
        return false;
      },
      end: () => resolve(read),
      error: reject,
    }),
  );
}

test('a reader slower than the client gets every byte, in order', async () => {
  const chunks = Array.from({ length: 64 }, (_, i) => Buffer.alloc(64 * 1024, i));
  let read: Buffer[] = [];
  const port = await serving(async (req) => {
    read = await readBody(req, { slow: true });
  });
  expect(await upload(port, chunks).done).toBe(204);
  expect(digest(Buffer.concat(read))).toBe(digest(Buffer.concat(chunks)));
});

test('a reader that resumes before it answers "wait" gets every byte', async () => {
  const chunks = Array.from({ length: 16 }, (_, i) => Buffer.alloc(64 * 1024, i));
  const read: Buffer[] = [];
  const port = await serving(
    (req) =>
      new Promise((resolve, reject) => {
        const body = incomingBody(req);
        body.read({
          data: (chunk) => {
            read.push(Buffer.from(chunk));
            body.resume();
            return false;
          },
          end: resolve,
          error: reject,
        });
      }),
  );
  expect(await upload(port, chunks).done).toBe(204);
  expect(digest(Buffer.concat(read))).toBe(digest(Buffer.concat(chunks)));
});

test('what arrived before the first read comes as it arrived, not joined into one new buffer', async () => {
  let read: Buffer[] = [];
  const port = await serving(async (req) => {
    // Both pieces are in the request's buffer by then.
    await new Promise((resolve) => setTimeout(resolve, 200));
    read = await readBody(req);
  });
  const req = request({ port, host: '127.0.0.1', method: 'POST', path: '/', headers: { 'content-length': '2000' } });
  const status = new Promise<number>((resolve) => req.on('response', (res) => resolve(res.statusCode ?? 0)));
  req.write(Buffer.alloc(1000, 1));
  await new Promise((resolve) => setTimeout(resolve, 50));
  req.end(Buffer.alloc(1000, 2));
  expect(await status).toBe(204);
  expect(read.map((chunk) => chunk.length)).toEqual([1000, 1000]);
});

test('a client that goes away mid-body ends the read with an error, not a wait', async () => {
  let firstChunk!: () => void;
  const gotChunk = new Promise<void>((resolve) => (firstChunk = resolve));
  let failure!: (error: unknown) => void;
  const failed = new Promise<unknown>((resolve) => (failure = resolve));
  const port = await serving(async (req) => {
    try {
      await new Promise((resolve, reject) =>
        incomingBody(req).read({
          data: () => {
            firstChunk();
            return true;
          },
          end: () => resolve(undefined),
          error: reject,
        }),
      );
    } catch (error) {
      failure(error);
      throw error;
    }
  });
  const { socket, done } = upload(port, [Buffer.alloc(1024)], { end: false });
  done.catch(() => {});
  await gotChunk;
  (await socket).destroy();
  expect(await failed).toBeInstanceOf(Error);
});

test('cancelling the read destroys the request, so the client is not left sending', async () => {
  const port = await serving(async (req) => {
    const body = incomingBody(req);
    await new Promise<void>((resolve) =>
      body.read({
        data: () => {
          resolve();
          return false;
        },
        end: () => {},
        error: () => {},
      }),
    );
    body.cancel();
  });
  const { done } = upload(port, [Buffer.alloc(1024)], { end: false });
  await expect(done).rejects.toThrow();
});
