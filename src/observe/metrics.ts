import type { CacheStats } from '../cache/layer.ts';
import type { RequestRecord } from '../core/record.ts';

/*
 * Prometheus counters kept in memory, rendered in the text exposition format
 * (https://prometheus.io/docs/instrumenting/exposition_formats/). Per process:
 * scrape every instance.
 */

/** Upper bounds, in seconds, of the upstream latency histogram's buckets. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;

/** What the proxy reports to its metrics. */
export interface Metrics {
  /** A proxied request began. */
  requestStarted(): void;
  /** A proxied request ended: its response body was sent whole, cut off, or abandoned. */
  requestFinished(record: RequestRecord): void;
  /** A client connection opened on the server (runtimes that see connections). */
  connectionOpened(): void;
  connectionClosed(): void;
  /** The current values, in Prometheus text format. */
  render(): string;
}

/** A fresh set of counters, all at zero. */
export function createMetrics(): Metrics {
  /** `"<class>|<error>"` -> count */
  const requests = new Map<string, number>();
  const buckets = LATENCY_BUCKETS.map(() => 0);
  let latencyCount = 0;
  let latencySum = 0;
  let bytes = 0;
  let rateLimited = 0;
  let inFlight = 0;
  let connections = 0;

  return {
    requestStarted() {
      inFlight++;
    },
    requestFinished(record) {
      inFlight--;
      const key = `${Math.floor(record.status / 100)}xx|${record.error ?? 'none'}`;
      requests.set(key, (requests.get(key) ?? 0) + 1);
      if (record.error === 'rate_limited') rateLimited++;
      // Only bodies that came from a target count as relayed; refusals are the proxy's own.
      if (record.error === null) bytes += record.bytes;
      if (record.upstreamMs !== null) {
        const seconds = record.upstreamMs / 1000;
        latencyCount++;
        latencySum += seconds;
        LATENCY_BUCKETS.forEach((le, i) => {
          if (seconds <= le) buckets[i] = (buckets[i] ?? 0) + 1;
        });
      }
    },
    connectionOpened() {
      connections++;
    },
    connectionClosed() {
      connections--;
    },
    render() {
      const lines: string[] = [];
      const family = (name: string, type: string, help: string) =>
        lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);

      family(
        'corsway_requests_total',
        'counter',
        'Proxied requests answered, by status class and refusal code ("none" when not refused).',
      );
      for (const [key, count] of [...requests].sort(([a], [b]) => a.localeCompare(b))) {
        const [statusClass, error] = key.split('|');
        lines.push(`corsway_requests_total{status_class="${statusClass}",error="${error}"} ${count}`);
      }
      family('corsway_rate_limited_total', 'counter', "Requests refused because the client's budget was spent.");
      lines.push(`corsway_rate_limited_total ${rateLimited}`);
      family(
        'corsway_upstream_duration_seconds',
        'histogram',
        "Time until the target's response headers arrived, redirects included.",
      );
      LATENCY_BUCKETS.forEach((le, i) => {
        lines.push(`corsway_upstream_duration_seconds_bucket{le="${le}"} ${buckets[i]}`);
      });
      lines.push(`corsway_upstream_duration_seconds_bucket{le="+Inf"} ${latencyCount}`);
      lines.push(`corsway_upstream_duration_seconds_sum ${latencySum}`);
      lines.push(`corsway_upstream_duration_seconds_count ${latencyCount}`);
      family('corsway_relayed_bytes_total', 'counter', "Bytes of targets' response bodies relayed to clients.");
      lines.push(`corsway_relayed_bytes_total ${bytes}`);
      family('corsway_requests_in_flight', 'gauge', 'Proxied requests being handled or streamed right now.');
      lines.push(`corsway_requests_in_flight ${inFlight}`);
      family('corsway_open_connections', 'gauge', 'Client connections open on the server.');
      lines.push(`corsway_open_connections ${connections}`);
      return `${lines.join('\n')}\n`;
    },
  };
}

/**
 * Whether the shared rate-limit store answers, for `/metrics`: behind its
 * token, the reason may name internal addresses that public `/healthz` hides.
 */
export function storeHealth(problem: string | null): string {
  const detail =
    problem === null ? '' : `{detail="${problem.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}"}`;
  return [
    '# HELP corsway_rate_limit_store_up Whether the shared rate-limit store answers (1) or not (0, with the reason).',
    '# TYPE corsway_rate_limit_store_up gauge',
    `corsway_rate_limit_store_up${detail} ${problem === null ? 1 : 0}`,
    '',
  ].join('\n');
}

/** The shared cache's gauges and counters, in the same format. */
export function cacheMetrics(stats: CacheStats): string {
  const lines: string[] = [];
  const metric = (name: string, type: string, help: string, value: number | null) => {
    if (value !== null) lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${value}`);
  };
  metric('corsway_cache_entries', 'gauge', 'Responses held by the shared cache.', stats.entries);
  metric('corsway_cache_bytes', 'gauge', 'Bytes the shared cache counts against CORSWAY_CACHE_BYTES.', stats.bytes);
  metric(
    'corsway_cache_hits_total',
    'counter',
    'Requests answered from the cache without asking the target.',
    stats.hits,
  );
  metric(
    'corsway_cache_misses_total',
    'counter',
    'Requests the cache sent on to the target, revalidations included.',
    stats.misses,
  );
  metric(
    'corsway_cache_coalesced_total',
    'counter',
    "Requests that waited for an identical request's answer instead of asking the target.",
    stats.coalesced,
  );
  return `${lines.join('\n')}\n`;
}

/** The content type of the text exposition format. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
