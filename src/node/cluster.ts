import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { Listen } from '../config/config.ts';
import { announce } from './startup.ts';

/** How long workers may finish in-flight requests after SIGTERM/SIGINT, plus a margin. */
const STOP_GRACE_MS = 12_000;

/**
 * The primary process of `CORSWAY_WORKERS` > 1: forks the workers (each runs
 * this same entry and serves the shared port; node:cluster hands connections
 * round-robin), prints one "listening" line, replaces a worker that dies, and
 * on SIGTERM/SIGINT lets every worker finish its requests before exiting.
 * A worker that exits before it ever listened (a port in use, say) would only
 * fail again, so that stops the whole server with exit code 1.
 */
export function supervise(listen: Listen, allowPrivateNetwork: boolean): void {
  const cores = availableParallelism();
  if (listen.workers > cores) {
    console.error(
      `corsway: warning: ${listen.workers} workers (CORSWAY_WORKERS, --workers) on ${cores} cores; workers beyond one per core only compete for them`,
    );
  }
  const listened = new Set<Worker>();
  let announced = false;
  // Why the first worker could not listen, as it reported it (see server.ts).
  let listenFailure: string | undefined;
  let stopping = false;
  // A worker exited before it listened: the server stops, said once.
  let failed = false;

  cluster.on('listening', (worker, address) => {
    listened.add(worker);
    if (announced || listened.size !== listen.workers) return;
    announced = true;
    const { line, warning } = announce(address.address, address.port, allowPrivateNetwork, listen.workers);
    console.log(line);
    if (warning) console.error(warning);
  });

  cluster.on('message', (_worker, message: { corswayListenFailure?: string }) => {
    listenFailure ??= message?.corswayListenFailure;
  });

  cluster.on('exit', (worker, code, signal) => {
    const how = signal ? `signal ${signal}` : `code ${code}`;
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(process.exitCode ?? 0);
      return;
    }
    if (!listened.has(worker)) {
      if (failed) return;
      failed = true;
      const report = () => {
        console.error(listenFailure ?? `corsway: a worker exited with ${how} before it could listen; stopping`);
        process.exitCode = 1;
        stop();
      };
      // Its reason comes over IPC, which is read in full once the channel has closed.
      if (worker.isConnected()) worker.once('disconnect', report);
      else report();
      return;
    }
    listened.delete(worker);
    console.error(`corsway: worker ${worker.process.pid} exited with ${how}; starting another`);
    cluster.fork();
  });

  function stop(signal?: string): void {
    if (stopping) return;
    stopping = true;
    if (signal) console.log(`corsway: ${signal} received, workers finishing in-flight requests`);
    const workers = Object.values(cluster.workers ?? {});
    if (workers.length === 0) process.exit(process.exitCode ?? 0);
    for (const worker of workers) worker?.process.kill('SIGTERM');
    setTimeout(() => process.exit(process.exitCode ?? 0), STOP_GRACE_MS).unref();
  }
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));

  for (let i = 0; i < listen.workers; i++) cluster.fork();
}
