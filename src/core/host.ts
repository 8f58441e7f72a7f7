/*
 * One spelling per host, for every comparison the proxy makes (origin lists,
 * target lists, the localhost and address checks). WHATWG URL has already
 * lower-cased the name, turned IDNA into punycode and dropped a default port;
 * what is left is the trailing dot of a fully qualified name, which names the
 * same host (RFC 1034 3.1) and must not slip past a list.
 */

/** The host name as compared: `Bad.Example.` and `bad.example` are one host. */
export function normalHost(hostname: string): string {
  const host = hostname.endsWith('.') ? hostname.slice(0, -1) : hostname;
  return host.toLowerCase();
}

/** RFC 1035 2.3.4: a label is at most 63 octets, a name at most 253 in its text form. */
const MAX_LABEL = 63;
const MAX_NAME = 253;

/** Why a DNS name (already in its ASCII form) can never resolve, or null when it could. */
export function nameTooLong(host: string): string | null {
  if (host.length > MAX_NAME) return `it is longer than ${MAX_NAME} characters`;
  // Label lengths read in place: no array of labels for every name checked.
  let start = 0;
  for (let end = host.indexOf('.'); ; end = host.indexOf('.', start)) {
    const stop = end === -1 ? host.length : end;
    if (stop - start > MAX_LABEL) {
      return `its label "${host.slice(start, start + 20)}…" is longer than ${MAX_LABEL} characters`;
    }
    if (end === -1) return null;
    start = end + 1;
  }
}
