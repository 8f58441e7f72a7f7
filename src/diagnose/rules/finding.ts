/*
 * The rules a browser applies to a cross-origin fetch(), from the Fetch standard
 * (https://fetch.spec.whatwg.org/; section names are quoted so each rule can be
 * checked against the text): which requests need a preflight, and whether a
 * preflight or a response lets the page read the answer. Pure: no I/O, used by
 * /diagnose to explain a blocked request in plain words. This file: what a
 * finding is; request.ts, mixed-content.ts, response.ts and exposure.ts: the rules.
 */

/** `RequestInit.credentials`. For a cross-origin request `same-origin` behaves like `omit`. */
export type Credentials = 'omit' | 'same-origin' | 'include';

/** Why the browser blocks a request (or hides part of the response). */
export type FindingCode =
  | 'forbidden_method'
  | 'mixed_content'
  | 'missing_allow_origin'
  | 'multiple_allow_origin'
  | 'origin_mismatch'
  | 'wildcard_with_credentials'
  | 'missing_allow_credentials'
  | 'preflight_redirect'
  | 'preflight_status'
  | 'invalid_allow_methods'
  | 'invalid_allow_headers'
  | 'method_not_allowed'
  | 'header_not_allowed'
  | 'header_not_exposed';

/** One reason, as a stable code and a sentence for the developer. */
export interface Finding {
  readonly code: FindingCode;
  readonly message: string;
}
