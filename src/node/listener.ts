import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Config } from '../config/config.ts';
import { Abort } from '../core/abort.ts';
import { ProxyError, refusal } from '../core/errors.ts';
import { Fields } from '../core/fields.ts';
import type { Answer, AnswerTo, CorsProxy } from '../core/proxy.ts';
import { type RequestFacts, requestFacts, servedPages } from '../routes.ts';
import { incomingBody } from './incoming-body.ts';
import type { NodeBody } from './stream-body.ts';

/**
 * The Node server's request listener, its front door. Proxied requests go
 * from node:http straight to the proxy and back, the target's body from
 * undici's socket straight into the client's response: no WHATWG Request,
 * Response or stream per request, which on Node 20 cost more than the rest
 * of the work. The app's own pages and the help page go to `app`, the Hono
 * app's listener, which shares `proxy`.
 */
export function nodeListener(proxy: CorsProxy<NodeBody>, config: Config, app: RequestListener): RequestListener {
  const serves = servedPages(config.metrics);
  return (req, res) => {
    const headers = Fields.fromRaw(req.rawHeaders);
    const asked = new Asked(req, res, headers);
    let facts: RequestFacts;
    try {
      facts = requestFacts({
        method: req.method ?? 'GET',
        target: req.url ?? '/',
        origin: `http://${headers.get('host') ?? 'localhost'}`,
        headers,
        trustProxy: config.trustProxy,
        peer: () => asked.peer(),
        serves,
      });
    } catch (error) {
      if (!(error instanceof ProxyError)) throw error;
      const origin = headers.get('origin');
      send({ ...refusal(error, origin), limit: 0, sent: () => {}, progress: null }, res, origin);
      return;
    }
    if (facts.kind !== 'target') {
      // The app builds its URL from Host and this origin-form target, never from an
      // absolute-form one; @hono/node-server answers a bare 400 to a raw backslash.
      req.url = `${facts.path.replaceAll('\\', '%5C')}${facts.query ? `?${facts.query}` : ''}`;
      app(req, res);
      return;
    }
    proxy.handle(
      {
        method: req.method ?? 'GET',
        target: facts.target,
        base: facts.base,
        headers,
        body: facts.hasBody ? incomingBody(req) : null,
        abort: asked,
        client: facts.client,
      },
      asked,
    );
  };
}

/**
 * A request the listener asked the proxy about, as it waits for the answer:
 * the Abort its upstream work follows, watched on the response, and what the
 * answer goes back to. One object, so the arrows made for a request close
 * over it alone: a closure's context lives as long as the request waits for
 * its target (docs/decisions/node24-pretenuring.md).
 */
class Asked extends Abort implements AnswerTo<NodeBody> {
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #headers: Fields;

  constructor(req: IncomingMessage, res: ServerResponse, headers: Fields) {
    super();
    this.#req = req;
    this.#res = res;
    this.#headers = headers;
  }

  /** The connection's peer address, read only when needed. */
  peer(): string {
    return this.#req.socket.remoteAddress ?? '';
  }

  // Watched only once the request goes to a target: a preflight needs no watch.
  // `on`, not `once`: a response closes once, and `once` wraps every listener in a bound function.
  protected override watch(): void {
    if (this.#res.destroyed) this.#gone();
    else this.#res.on('close', () => this.#gone());
  }

  /** The client went away before its response was sent: its upstream work stops. */
  #gone(): void {
    if (!this.#res.writableFinished) this.abort();
  }

  answered(answer: Answer<NodeBody>): void {
    send(answer, this.#res, this.#headers.get('origin'));
  }

  failed(error: unknown): void {
    console.error(error);
    this.#res.destroy();
  }
}

function send(answer: Answer<NodeBody>, res: ServerResponse, origin: string | null): void {
  const { body, sent } = answer;
  if (res.destroyed) {
    if (body && typeof body !== 'string') body.cancel();
    sent(0);
    return;
  }
  const head = answer.headers.flat();
  const length = typeof body === 'string' ? Buffer.byteLength(body) : 0;
  if (typeof body === 'string') head.push('content-length', String(length));
  try {
    res.writeHead(answer.status, head);
  } catch {
    // node:http refuses some bytes in header values that undici accepts from a target.
    if (body && typeof body !== 'string') body.cancel();
    const bad = new ProxyError('upstream_failed', 'The target sent a response header that cannot be relayed.');
    send({ ...refusal(bad, origin), limit: 0, sent, progress: null }, res, origin);
    return;
  }
  if (body === null || typeof body === 'string') {
    res.end(body ?? undefined);
    sent(length);
    return;
  }
  relay(body, res, answer.limit, sent, answer.progress);
}

/**
 * Writes a target's body to the client as it arrives. An upstream failure
 * mid-body, or a body past `limit`, destroys the client's response, so the
 * client sees the cut; a client that goes away ends the upstream request.
 */
function relay(
  body: NodeBody,
  res: ServerResponse,
  limit: number,
  sent: (bytes: number) => void,
  progress: ((bytes: number) => void) | null,
): void {
  // One write and no watchers for a body that is here already, whole.
  const whole = body.whole();
  if (whole !== null && !(limit && whole.length > limit)) {
    progress?.(whole.length);
    res.end(whole);
    sent(whole.length);
    return;
  }
  let bytes = 0;
  let ended = false;
  // Headers leave with the first body bytes when those are here already (one
  // write), else at once: the client of an event stream sees them before the
  // first event.
  let first = true;
  body.read({
    data(chunk) {
      first = false;
      bytes += chunk.length;
      if (limit && bytes > limit) {
        res.destroy();
        return false;
      }
      progress?.(bytes);
      return res.write(chunk);
    },
    end() {
      ended = true;
      res.end();
    },
    error(error) {
      res.destroy(error);
    },
  });
  // A small body usually arrived whole with the headers: it is written now,
  // and there is nothing left to watch.
  if (ended) {
    sent(bytes);
    return;
  }
  res.once('close', () => {
    if (!res.writableFinished) body.cancel();
    sent(bytes);
  });
  res.on('drain', () => body.resume());
  if (first && !res.writableEnded) res.flushHeaders();
}
