import { createRequire } from 'node:module';

/*
 * cors-anywhere 0.4.4, the proxy corsway is compared with, configured as its
 * README's example recommends (cookies stripped, Origin or X-Requested-With
 * required). With BENCH_RATE_LIMIT set (its own `<max> <minutes>` format), its
 * built-in rate limiter is on, for scenario 6. Plain JavaScript: run through
 * a TypeScript loader, it would carry about 30 MB of the loader's memory.
 * Prints `listening <port>`.
 */

const require = createRequire(import.meta.url);
const corsAnywhere = require('cors-anywhere');
const createRateLimitChecker = require('cors-anywhere/lib/rate-limit');

const server = corsAnywhere.createServer({
  originWhitelist: [],
  requireHeader: ['origin', 'x-requested-with'],
  removeHeaders: ['cookie', 'cookie2'],
  ...(process.env.BENCH_RATE_LIMIT ? { checkRateLimit: createRateLimitChecker(process.env.BENCH_RATE_LIMIT) } : {}),
});
server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
process.once('SIGTERM', () => process.exit(0));
