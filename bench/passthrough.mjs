import { createServer } from 'node:http';
import { Agent } from 'undici';

/*
 * The floor under any Node proxy built like corsway's Node path: node:http in,
 * undici's dispatcher out over keep-alive pools, the body relayed chunk by
 * chunk with backpressure, Access-Control-Allow-Origin added, and the
 * upstream request ended when its client goes away. Nothing else: no target
 * rules, no address guard, no header policy, no SPEC headers, no error
 * answers. Not a proxy to run; a baseline that says how much of
 * corsway's cost is the platform's. Plain JavaScript, like cors-anywhere.mjs,
 * so no TypeScript loader adds to its memory. Prints `listening <port>`.
 */

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host']);
const agent = new Agent();

const server = createServer((req, res) => {
  const target = new URL((req.url ?? '/').slice(1));
  const headers = [];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    if (!HOP_BY_HOP.has(raw[i].toLowerCase())) headers.push(raw[i], raw[i + 1]);
  }
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  // A client that goes away ends its upstream request, as any proxy must: a response
  // paused for it would otherwise hold its connection to the target for good.
  let upstream = null;
  const gone = () => !res.writableFinished && upstream?.abort(new Error('the client went away'));
  res.on('close', gone);
  agent.dispatch(
    {
      origin: target.origin,
      path: target.pathname + target.search,
      method: req.method,
      headers,
      body: hasBody ? req : null,
    },
    {
      onRequestStart(controller) {
        upstream = controller;
        if (res.destroyed) gone();
      },
      onResponseStart(controller, status, upstream) {
        const out = [];
        for (const [name, value] of Object.entries(upstream)) {
          if (value === undefined || HOP_BY_HOP.has(name)) continue;
          for (const v of Array.isArray(value) ? value : [value]) out.push(name, v);
        }
        out.push('access-control-allow-origin', req.headers.origin ?? '*');
        res.writeHead(status, out);
        res.on('drain', () => controller.resume());
      },
      onResponseData(controller, chunk) {
        if (!res.write(chunk)) controller.pause();
      },
      onResponseEnd() {
        res.end();
      },
      onResponseError(_controller, error) {
        if (res.headersSent) res.destroy(error);
        else res.writeHead(502).end();
      },
    },
  );
});

server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
process.once('SIGTERM', () => process.exit(0));
