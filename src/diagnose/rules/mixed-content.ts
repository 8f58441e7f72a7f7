import { isLoopbackAddress } from '../../core/address.ts';
import { isLocalhost } from '../../core/target.ts';
import type { Finding } from './finding.ts';

/** Hosts a secure page may fetch over plain http ("potentially trustworthy origin"): loopback. */
function isTrustworthyHost(hostname: string): boolean {
  return isLocalhost(hostname) || isLoopbackAddress(hostname);
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
