import type { Socket } from 'node:net';
import type { buildConnector } from 'undici';

/*
 * RFC 9110 15.2: a client must accept any number of 1xx responses before the
 * final one, asked for or not. undici passes 1xx other than 100 to the
 * dispatch handler (which skips them), but drops the connection on a
 * `100 Continue` it did not ask for ("bad response", client-h1.js). So the
 * Node upstream's sockets drop 100 responses where a response begins,
 * before undici's parser reads them.
 */

/** A 100 head longer than this is not taken out: undici refuses it as before. */
const MAX_HEAD = 16 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');
/** `HTTP/1.1 100 ` or `HTTP/1.0 100\r`: the bytes that say a head is a 100 (x: 0 or 1; _: space or CR). */
const CONTINUE = Buffer.from('HTTP/1.x 100_', 'latin1');
const STATUS_LINE_START = CONTINUE.length;

/** Wraps `connect` so that every socket it makes drops interim 100 responses. */
export function skippingContinue(connect: buildConnector.connector): buildConnector.connector {
  return (options, callback) =>
    connect(options, (error, socket) => {
      if (socket) dropContinue(socket);
      // undici's callback type is a union of the error and the success call.
      (callback as (error: Error | null, socket: Socket | null) => void)(error, socket);
    });
}

/**
 * undici writes every request head as one latin1 string starting with the
 * method, and bodies as buffers; so a response begins after a string write
 * that starts with an upper-case letter. undici reads with `socket.read()`,
 * which is swapped for the checking read while a response's first bytes are
 * awaited, and back once they are not a 100: a body's reads pass no wrapper.
 */
function dropContinue(socket: Socket): void {
  let held: Buffer | null = null;
  const read = socket.read;
  const readHead = (size?: number): Buffer | null => {
    for (;;) {
      const chunk = read.call(socket, size) as Buffer | null;
      if (chunk === null) return null;
      let data: Buffer = held ? Buffer.concat([held, chunk]) : chunk;
      held = null;
      for (;;) {
        const start = continueStart(data);
        if (start === 'more') {
          held = data;
          break;
        }
        if (start === 'no') {
          socket.read = read;
          return data;
        }
        const end = data.indexOf(HEAD_END);
        if (end === -1) {
          if (data.length > MAX_HEAD) {
            socket.read = read;
            return data;
          }
          held = data;
          break;
        }
        data = data.subarray(end + HEAD_END.length);
        if (data.length === 0) break;
      }
    }
  };
  socket.read = readHead;
  const write = socket.write as (chunk: unknown, encoding: unknown, callback: unknown) => boolean;
  socket.write = ((chunk: unknown, encoding: unknown, callback: unknown) => {
    if (typeof chunk === 'string' && chunk.charCodeAt(0) >= 65 && chunk.charCodeAt(0) <= 90) socket.read = readHead;
    return write.call(socket, chunk, encoding, callback);
  }) as Socket['write'];
}

/**
 * Whether `data` begins a 100 head, compared byte by byte: every response
 * passes here, and a string and a regular expression per response cost more
 * than the check. 'more' when `data` is too short to tell.
 */
function continueStart(data: Buffer): 'yes' | 'no' | 'more' {
  const n = Math.min(data.length, STATUS_LINE_START);
  for (let i = 0; i < n; i++) {
    const byte = data[i];
    const ok =
      i === 7 ? byte === 0x30 || byte === 0x31 : i === 12 ? byte === 0x20 || byte === 0x0d : byte === CONTINUE[i];
    if (!ok) return 'no';
  }
  return n < STATUS_LINE_START ? 'more' : 'yes';
}
