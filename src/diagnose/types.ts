import type { Credentials, Finding } from './rules/finding.ts';

/* What a diagnosis is made of: the question, each exchange, the verdict, the fix. */

/** What the page asks of the target, in the terms of `fetch()`. */
export interface Question {
  readonly url: URL;
  /** The page's serialized origin, as the browser sends it in `Origin`. */
  readonly origin: string;
  readonly method: string;
  /** Request header names the page sets, lower-case; forbidden ones are dropped. */
  readonly headers: readonly string[];
  /** The `Content-Type` the page sends, if any. */
  readonly contentType: string | null;
  readonly credentials: Credentials;
  /** Response header names the page reads, lower-case. */
  readonly read: readonly string[];
}

/** One exchange with the target, as a browser would make it. */
export interface Step {
  /**
   * `preflight`: the browser's OPTIONS; `probe`: an OPTIONS the browser would
   * not send, asked instead of sending an unsafe method; `request`: the request itself.
   */
  readonly kind: 'preflight' | 'probe' | 'request';
  /** False when corsway judged the step without sending it. */
  readonly sent: boolean;
  readonly method: string;
  readonly url: string;
  /** The `Origin` the browser sends here (`null` once a redirect tainted it). */
  readonly origin: string;
  readonly requestHeaders: Record<string, string>;
  readonly status: number | null;
  /** Everything the target sent, `Set-Cookie` values withheld. */
  readonly responseHeaders: Record<string, string> | null;
  /** Why the browser stops here; empty when it goes on. */
  readonly findings: readonly Finding[];
  readonly note: string | null;
}

/** Headers the target's operator would have to send. */
export interface Fix {
  readonly message: string;
  /** On the answer to the preflight (OPTIONS); null when the browser sends none. */
  readonly preflight: Record<string, string> | null;
  /** On the answer to the request itself. */
  readonly response: Record<string, string>;
}

/** The same request through this proxy, judged by the same rules. */
export interface ProxySuggestion {
  readonly url: string;
  readonly works: boolean;
  readonly message: string;
}

export interface Diagnosis {
  /** The question as asked, its URL as text for JSON. */
  readonly request: Omit<Question, 'url'> & { readonly url: string };
  /** `same-origin` needs no CORS; `simple` is sent without a preflight. */
  readonly kind: 'same-origin' | 'simple' | 'preflighted';
  /** Why the browser sends a preflight first (empty for a simple request). */
  readonly preflightReasons: readonly string[];
  readonly steps: readonly Step[];
  readonly verdict: 'allowed' | 'blocked';
  /** The reason the browser gives up (the first one it meets); null when allowed. */
  readonly reason: Finding | null;
  readonly notes: readonly string[];
  /** What the target should send; null when nothing is wrong. */
  readonly fix: Fix | null;
  readonly proxy: ProxySuggestion;
}

/** The form's fields, which are also the query parameters of the JSON API. */
export const FIELDS = ['url', 'origin', 'method', 'headers', 'content-type', 'credentials', 'read'] as const;
export type Fields = Partial<Record<(typeof FIELDS)[number], string>>;
