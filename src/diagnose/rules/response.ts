import { isToken } from '../../core/fields.ts';
import { REDIRECT_STATUSES } from '../../core/upstream.ts';
import type { Credentials, Finding } from './finding.ts';
import { isSafelistedMethod } from './request.ts';

/* Fetch standard, "CORS check" and "CORS-preflight fetch": whether an answer lets the page go on. */

/** The request as the CORS checks need it. */
export interface CorsRequest {
  /** The serialized origin the browser sends in `Origin` (`null` after some redirects). */
  readonly origin: string;
  readonly credentials: Credentials;
}

/**
 * The "CORS check" of a response (the preflight's or the actual one):
 * `Access-Control-Allow-Origin` must be `*` (only without credentials) or the
 * origin exactly, and with credentials `Access-Control-Allow-Credentials` must be
 * `true`. `what` names the response in the message ("response", "preflight response").
 */
export function corsCheck(headers: Headers, request: CorsRequest, what: string): Finding | null {
  const { origin } = request;
  const credentials = request.credentials === 'include';
  const allowOrigin = headers.get('access-control-allow-origin');
  if (allowOrigin === null) {
    return {
      code: 'missing_allow_origin',
      message: `The ${what} has no Access-Control-Allow-Origin header, so the browser does not let a page from ${origin} read it.`,
    };
  }
  if (allowOrigin === '*' && credentials) {
    return {
      code: 'wildcard_with_credentials',
      message: `The ${what} allows any origin (Access-Control-Allow-Origin: *), but the request is sent with credentials (credentials: 'include'). With credentials the browser requires the exact origin, ${origin}, instead of *.`,
    };
  }
  if (allowOrigin !== '*' && allowOrigin !== origin) {
    if (allowOrigin.includes(',')) {
      return {
        code: 'multiple_allow_origin',
        message: `The ${what} carries several Access-Control-Allow-Origin values ("${allowOrigin}"); the browser accepts exactly one value: * or the page's origin, ${origin}. Send one header with one value, chosen per request.`,
      };
    }
    const close = allowOrigin.replace(/\/+$/, '').toLowerCase() === origin.toLowerCase();
    return {
      code: 'origin_mismatch',
      message: `The ${what} allows the origin "${allowOrigin}", but the page's origin is "${origin}".${close ? ' The browser compares them character by character: scheme, host and port only, in lower case, with no trailing slash or path.' : ''}`,
    };
  }
  if (credentials) {
    const allowCredentials = headers.get('access-control-allow-credentials');
    if (allowCredentials !== 'true') {
      return {
        code: 'missing_allow_credentials',
        message:
          allowCredentials === null
            ? `The request is sent with credentials (credentials: 'include'), but the ${what} has no Access-Control-Allow-Credentials: true.`
            : `The request is sent with credentials (credentials: 'include'), but the ${what} has Access-Control-Allow-Credentials: "${allowCredentials}"; only the exact value true counts.`,
      };
    }
  }
  return null;
}

/**
 * "extracting header list values" for the `Access-Control-Allow-*` lists: a
 * comma list of tokens, empty entries skipped. Null when absent; 'invalid'
 * when an entry is not a token, which makes the browser reject the preflight.
 */
export function parseList(value: string | null): string[] | 'invalid' | null {
  if (value === null) return null;
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return items.every(isToken) ? items : 'invalid';
}

/** What the page asks for in its preflight. */
export interface PreflightRequest extends CorsRequest {
  /** The method of the actual request, as `Access-Control-Request-Method` carries it. */
  readonly method: string;
  /** "CORS-unsafe request-header names", lower-case (see unsafeHeaderNames). */
  readonly unsafeHeaders: readonly string[];
}

export function quoted(value: string | null): string {
  return value === null ? 'missing' : `"${value}"`;
}

/**
 * The checks of "CORS-preflight fetch", in the order they make the browser give
 * up: no redirect, a 2xx ("ok") status, the CORS check, then the method and each
 * header allowed. `*` allows any method or header only without credentials,
 * and never `Authorization` ("CORS non-wildcard request-header name").
 */
export function preflightCheck(status: number, headers: Headers, request: PreflightRequest): Finding[] {
  const location = headers.get('location');
  // A "redirect status" with a Location is followed, which a preflight never is;
  // any other 3xx is just not an ok status.
  if (REDIRECT_STATUSES.has(status) && location !== null) {
    return [
      {
        code: 'preflight_redirect',
        message: `The target answered the preflight with a redirect (${status} to ${location}). Browsers never follow a redirect of a preflight, so the request is blocked.`,
      },
    ];
  }
  const findings: Finding[] = [];
  if (status < 200 || status > 299) {
    findings.push({
      code: 'preflight_status',
      message: `The target answered the preflight (OPTIONS) with status ${status}; the browser goes on only after a 2xx status such as 204.`,
    });
  }
  const cors = corsCheck(headers, request, 'preflight response');
  if (cors) findings.push(cors);

  const credentials = request.credentials === 'include';
  const allowMethodsValue = headers.get('access-control-allow-methods');
  const methods = parseList(allowMethodsValue);
  if (methods === 'invalid') {
    findings.push({
      code: 'invalid_allow_methods',
      message: `Access-Control-Allow-Methods "${allowMethodsValue}" is not a comma list of method names, so the browser rejects the preflight.`,
    });
  } else if (
    !isSafelistedMethod(request.method) &&
    !methods?.includes(request.method) &&
    (credentials || !methods?.includes('*'))
  ) {
    const wildcard = credentials && methods?.includes('*');
    const otherCase = methods?.find((m) => m.toUpperCase() === request.method.toUpperCase());
    findings.push({
      code: 'method_not_allowed',
      message: `The preflight response does not allow the method ${request.method}: Access-Control-Allow-Methods is ${quoted(allowMethodsValue)}.${wildcard ? ' The wildcard * counts only for requests without credentials.' : ''}${otherCase ? ` Method names are compared case-sensitively: "${otherCase}" is not "${request.method}".` : ''}`,
    });
  }

  const allowHeadersValue = headers.get('access-control-allow-headers');
  const allowed = parseList(allowHeadersValue);
  if (allowed === 'invalid') {
    findings.push({
      code: 'invalid_allow_headers',
      message: `Access-Control-Allow-Headers "${allowHeadersValue}" is not a comma list of header names, so the browser rejects the preflight.`,
    });
  } else {
    const names = new Set(allowed?.map((n) => n.toLowerCase()));
    const wildcardCounts = names.has('*') && !credentials;
    const refused = request.unsafeHeaders.filter(
      (name) => !names.has(name) && (name === 'authorization' || !wildcardCounts),
    );
    if (refused.length > 0) {
      const notes: string[] = [];
      if (refused.includes('authorization') && names.has('*')) {
        notes.push(
          ' Authorization is never covered by *: it must be listed by name. Browsers that follow the Fetch standard block this; Chromium so far lets it through with a deprecation warning (AuthorizationCoveredByWildcard).',
        );
      }
      if (credentials && names.has('*')) notes.push(' The wildcard * counts only for requests without credentials.');
      findings.push({
        code: 'header_not_allowed',
        message: `The preflight response does not allow the request header${refused.length > 1 ? 's' : ''} ${refused.join(', ')}: Access-Control-Allow-Headers is ${quoted(allowHeadersValue)}.${notes.join('')}`,
      });
    }
  }
  return findings;
}
