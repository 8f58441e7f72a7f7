// Preloaded into the proxy (NODE_OPTIONS=--import) by the soak: once a second, one JSON line
// of this process's memory and event-loop delay, appended to SOAK_PROBE_FILE.
import { appendFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const file = process.env.SOAK_PROBE_FILE;
if (file) {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  setInterval(() => {
    const { rss, heapUsed } = process.memoryUsage();
    const line = { pid: process.pid, t: Date.now(), rss, heap: heapUsed, p99: delay.percentile(99) / 1e6 };
    appendFileSync(file, `${JSON.stringify(line)}\n`);
    delay.reset();
  }, 1_000).unref();
}
