import cluster from 'node:cluster';
import { ConfigError, parseConfig } from '../config/config.ts';

/*
 * `npm start`: the configuration is checked here, once, before anything
 * listens; with CORSWAY_WORKERS > 1 this process only supervises the workers.
 * Each part loads only in the process that uses it: the primary, without the
 * proxy's dependencies, stays about 15 MB smaller than a worker. A
 * configuration problem, found here or while the server is set up (the egress
 * proxy variables), is reported once, below.
 */
try {
  const config = parseConfig(process.env);
  if (config.workers > 1 && cluster.isPrimary)
    (await import('./cluster.ts')).supervise(config, config.allowPrivateNetwork);
  else await (await import('./server.ts')).serve(config, config);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`corsway: ${error.message}`);
  process.exit(1);
}
