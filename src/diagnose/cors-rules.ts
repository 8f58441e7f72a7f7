/*
 * The rules a browser applies to a cross-origin fetch(), from the Fetch standard
 * (https://fetch.spec.whatwg.org/; section names are quoted so each rule can be
 * checked against the text): which requests need a preflight, and whether a
 * preflight or a response lets the page read the answer. Pure: no I/O, used by
 * /diagnose to explain a blocked request in plain words.
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

/** "CORS-safelisted method". */
const SAFELISTED_METHODS = new Set(['GET', 'HEAD', 'POST']);
/** "forbidden method": fetch() throws before sending anything. */
const FORBIDDEN_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK']);

export function isSafelistedMethod(method: string): boolean {
  return SAFELISTED_METHODS.has(method);
}

export function isForbiddenMethod(method: string): boolean {
  return FORBIDDEN_METHODS.has(method.toUpperCase());
}

/** The finding for a method `fetch()` refuses to send ("forbidden method"), or null. */
export function methodCheck(method: string): Finding | null {
  if (!isForbiddenMethod(method)) return null;
  return {
    code: 'forbidden_method',
    message: `Browsers refuse to send ${method.toUpperCase()} requests at all: fetch() throws before anything is sent.`,
  };
}

/** Hosts a secure page may fetch over plain http ("potentially trustworthy origin"). */
function isTrustworthyHost(hostname: string): boolean {
  const host = hostname.replace(/\.$/, '').toLowerCase();
  return host === 'localhost' || host.endsWith('.localhost') || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '[::1]';
}

/**
 * Mixed Content (https://w3c.github.io/webappsec-mixed-content/): a page
 * served over https may not fetch plain http, except from loopback. The
 * browser blocks it before CORS is even considered.
 */
export function mixedContentCheck(origin: string, target: URL): Finding | null {
  if (!origin.startsWith('https:') || target.protocol !== 'http:' || isTrustworthyHost(target.hostname)) return null;
  return {
    code: 'mixed_content',
    message: `The page is served over https (${origin}) and the target is plain http (${target.origin}); browsers block such "mixed content" before any CORS check. Use the target's https URL.`,
  };
}

/** RFC 9110 5.6.2 `token`: what a method or header name may be made of. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function isToken(text: string): boolean {
  return TOKEN.test(text);
}

/**
 * "forbidden request-header": a page cannot set these; the browser silently
 * drops them from `fetch()`'s headers.
 */
const FORBIDDEN_REQUEST_HEADERS = new Set([
  'accept-charset',
  'accept-encoding',
  'access-control-request-headers',
  'access-control-request-method',
  'connection',
  'content-length',
  'cookie',
  'cookie2',
  'date',
  'dnt',
  'expect',
  'host',
  'keep-alive',
  'origin',
  'referer',
  'set-cookie',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'via',
]);

export function isForbiddenRequestHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return FORBIDDEN_REQUEST_HEADERS.has(lower) || lower.startsWith('proxy-') || lower.startsWith('sec-');
}

/** Names of "CORS-safelisted request-header"s; each also has limits on its value. */
export const SAFELISTED_REQUEST_HEADERS: ReadonlySet<string> = new Set([
  'accept',
  'accept-language',
  'content-language',
  'content-type',
  'range',
]);

/** "CORS-unsafe request-header byte": controls other than tab, DEL, and `"():<>?@[\]{}`. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the standard lists these bytes.
const UNSAFE_BYTE = /[\u0000-\u0008\u000a-\u001f"():<>?@[\\\]{}\u007f]/;
/** The bytes `Accept-Language` and `Content-Language` are limited to. */
const LANGUAGE_VALUE = /^[0-9A-Za-z *,\-.;=]*$/;
/** The three request body types a form could always send cross-origin. */
const SAFELISTED_CONTENT_TYPES = new Set(['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain']);
/** Longest value of one safelisted header, and of all of them together, in bytes. */
const MAX_SAFELISTED_VALUE = 128;
const MAX_SAFELISTED_TOTAL = 1024;

function byteLength(value: string): number {
  return new TextEncoder().encode(value).byteLength;
}

/** The essence (`type/subtype`, lower-cased) of a MIME type, or null ("parse a MIME type"). */
export function mimeEssence(value: string): string | null {
  const text = value.replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, '');
  const slash = text.indexOf('/');
  if (slash < 0) return null;
  const type = text.slice(0, slash);
  const semicolon = text.indexOf(';', slash);
  const subtype = text.slice(slash + 1, semicolon < 0 ? undefined : semicolon).replace(/[\t\n\r ]+$/, '');
  if (!isToken(type) || !isToken(subtype)) return null;
  return `${type}/${subtype}`.toLowerCase();
}

/**
 * "simple range header value" with whitespace not allowed: `bytes=start-` or
 * `bytes=start-end`. A suffix range (`bytes=-500`) or several ranges are not.
 */
function isSafelistedRange(value: string): boolean {
  const m = /^bytes=(\d+)-(\d*)$/.exec(value);
  if (!m) return false;
  return m[2] === '' || BigInt(m[1] as string) <= BigInt(m[2] as string);
}

/** "CORS-safelisted request-header": a header a page may send without a preflight. */
export function isSafelistedRequestHeader(name: string, value: string): boolean {
  let safe: boolean;
  switch (name.toLowerCase()) {
    case 'accept':
      safe = !UNSAFE_BYTE.test(value);
      break;
    case 'accept-language':
    case 'content-language':
      safe = LANGUAGE_VALUE.test(value);
      break;
    case 'content-type': {
      const essence = UNSAFE_BYTE.test(value) ? null : mimeEssence(value);
      safe = essence !== null && SAFELISTED_CONTENT_TYPES.has(essence);
      break;
    }
    case 'range':
      safe = isSafelistedRange(value);
      break;
    default:
      safe = false;
  }
  return safe && byteLength(value) <= MAX_SAFELISTED_VALUE;
}

/**
 * "CORS-unsafe request-header names": the lower-cased, sorted names a preflight
 * asks about in `Access-Control-Request-Headers`. Safelisted headers count too
 * once their values add up to more than 1024 bytes.
 */
export function unsafeHeaderNames(headers: ReadonlyArray<readonly [string, string]>): string[] {
  const unsafe: string[] = [];
  const potentiallyUnsafe: string[] = [];
  let safelistedBytes = 0;
  for (const [name, value] of headers) {
    if (isSafelistedRequestHeader(name, value)) {
      potentiallyUnsafe.push(name);
      safelistedBytes += byteLength(value);
    } else {
      unsafe.push(name);
    }
  }
  if (safelistedBytes > MAX_SAFELISTED_TOTAL) unsafe.push(...potentiallyUnsafe);
  return [...new Set(unsafe.map((n) => n.toLowerCase()))].sort();
}

/** Why a request needs a preflight, in words; empty for a request sent without one. */
export function preflightReasons(method: string, headers: ReadonlyArray<readonly [string, string]>): string[] {
  const reasons: string[] = [];
  if (!isSafelistedMethod(method)) reasons.push(`the method ${method} is not GET, HEAD or POST`);
  for (const name of unsafeHeaderNames(headers)) {
    const value = headers.find(([n]) => n.toLowerCase() === name)?.[1] ?? '';
    if (isSafelistedRequestHeader(name, value)) {
      reasons.push(`the safelisted headers together are longer than ${MAX_SAFELISTED_TOTAL} bytes`);
    } else if (name === 'content-type') {
      reasons.push(
        `Content-Type "${value}" is not application/x-www-form-urlencoded, multipart/form-data or text/plain`,
      );
    } else if (SAFELISTED_REQUEST_HEADERS.has(name)) {
      reasons.push(`the value "${value}" of ${name} is beyond what may be sent without a preflight`);
    } else {
      reasons.push(`the header ${name} is not CORS-safelisted`);
    }
  }
  return [...new Set(reasons)];
}

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

/** Fetch "redirect status". */
export const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** What the page asks for in its preflight. */
export interface PreflightRequest extends CorsRequest {
  /** The method of the actual request, as `Access-Control-Request-Method` carries it. */
  readonly method: string;
  /** "CORS-unsafe request-header names", lower-case (see unsafeHeaderNames). */
  readonly unsafeHeaders: readonly string[];
}

function quoted(value: string | null): string {
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

/** "CORS-safelisted response-header name": what a page may always read. */
export const SAFELISTED_RESPONSE_HEADERS = [
  'cache-control',
  'content-language',
  'content-length',
  'content-type',
  'expires',
  'last-modified',
  'pragma',
] as const;
/** "forbidden response-header name": never readable by a page. */
const FORBIDDEN_RESPONSE_HEADERS = new Set(['set-cookie', 'set-cookie2']);

/**
 * The response headers the page wants to read (`read`, any case) that the
 * target sent but the browser hides: neither safelisted nor listed in
 * `Access-Control-Expose-Headers` (whose `*` counts only without credentials).
 */
export function hiddenHeaders(headers: Headers, read: readonly string[], credentials: Credentials): string[] {
  const exposedValue = parseList(headers.get('access-control-expose-headers'));
  const exposed = new Set(exposedValue === 'invalid' ? [] : exposedValue?.map((n) => n.toLowerCase()));
  const all = exposed.has('*') && credentials !== 'include';
  const safelisted = new Set<string>(SAFELISTED_RESPONSE_HEADERS);
  return read
    .map((n) => n.toLowerCase())
    .filter((name) => headers.has(name))
    .filter((name) => FORBIDDEN_RESPONSE_HEADERS.has(name) || !(safelisted.has(name) || all || exposed.has(name)));
}

/** The finding for headers the page cannot read, or null when it can read all of them. */
export function exposureCheck(headers: Headers, read: readonly string[], credentials: Credentials): Finding | null {
  const hidden = hiddenHeaders(headers, read, credentials);
  if (hidden.length === 0) return null;
  const value = headers.get('access-control-expose-headers');
  const list = parseList(value);
  const wildcard = credentials === 'include' && Array.isArray(list) && list.includes('*');
  const cookie = hidden.some((n) => FORBIDDEN_RESPONSE_HEADERS.has(n));
  return {
    code: 'header_not_exposed',
    message: `The request succeeds, but the browser hides the response header${hidden.length > 1 ? 's' : ''} ${hidden.join(', ')} from the page: a page reads only Cache-Control, Content-Language, Content-Length, Content-Type, Expires, Last-Modified, Pragma and the names listed in Access-Control-Expose-Headers (here ${quoted(value)}).${wildcard ? ' The wildcard * counts only for requests without credentials.' : ''}${cookie ? ' Set-Cookie is never readable by a page.' : ''}`,
  };
}
