import { once } from 'node:events';
import { createServer } from 'node:net';

/**
 * A port of 127.0.0.1 where nothing listens, for "connection refused": the
 * kernel hands out a free one, which is closed again at once.
 */
export async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}
