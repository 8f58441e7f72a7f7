import { afterAll, beforeAll } from 'vitest';
import { type RedisLimiter, redisLimiter } from '../../src/limiters/redis.ts';
import { limiterContract } from '../support/limiter-contract.ts';
import { RedisServer } from '../support/redis-server.ts';

const redis = new RedisServer();
const limiters: RedisLimiter[] = [];

beforeAll(async () => {
  await redis.start();
});
afterAll(async () => {
  for (const limiter of limiters) limiter.close();
  await redis.stop();
});

// Fail closed: a store that does not answer must fail the contract, not hide behind the memory fallback.
limiterContract('Redis', (spec) => {
  const limiter = redisLimiter(redis.url, spec, 'closed');
  limiters.push(limiter);
  return limiter;
});
