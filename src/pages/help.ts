import type { Config } from '../config/config.ts';
import { describe, SETTINGS } from '../config/settings.ts';

/** The active limits, as lines a user can read: every setting the table puts on the page. */
export function policyLines(config: Config): [string, string][] {
  return SETTINGS.flatMap((setting) =>
    'page' in setting ? [[setting.page, describe(setting, config)] as [string, string]] : [],
  );
}

export function helpText(config: Config, base: string): string {
  return `corsway: a CORS proxy.

Put the URL you want after this proxy's address:
  ${base}/https://api.example.com/data

From a web page:
  const response = await fetch('${base}/https://api.example.com/data');

Also accepted: ${base}/api.example.com/data (https is assumed),
and ${base}/?url=<percent-encoded URL>.

Cookies are neither forwarded nor returned, and credentialed requests
(credentials: 'include') are not supported: send tokens in a header.

Why does the browser block a request? Ask, and get the reason and the fix:
  ${base}/diagnose/https://api.example.com/data?origin=https://app.example.com&method=PUT&headers=authorization

Active limits:
${policyLines(config)
  .map(([k, v]) => `  ${k}: ${v}`)
  .join('\n')}
`;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);
}

export function helpHtml(config: Config, base: string): string {
  const b = escapeHtml(base);
  const rows = policyLines(config)
    .map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`)
    .join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>corsway: a CORS proxy</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1d2330;background:#fcfcfd}
h1{font-size:1.6rem;margin-bottom:.2rem}h1+p{margin-top:0;color:#555}
h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #e3e5ea;padding-bottom:.2rem}
code,pre{font-family:ui-monospace,monospace;font-size:.875em;background:#f1f3f6;border-radius:4px}
code{padding:.1rem .3rem;overflow-wrap:anywhere;box-decoration-break:clone;-webkit-box-decoration-break:clone}
pre{line-height:1.45;padding:.8rem 1rem;overflow-x:auto}
a{color:#0b57d0}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #eceef2;vertical-align:top}
th{font-weight:600;width:40%}
</style>
</head>
<body>
<h1>corsway</h1>
<p>A CORS proxy: it fetches a URL for your web app and adds the CORS headers the target did not send.</p>
<h2>Usage</h2>
<p>Put the URL you want after this proxy's address:</p>
<pre>${b}/https://api.example.com/data</pre>
<p>From a web page:</p>
<pre>const response = await fetch('${b}/https://api.example.com/data');
const data = await response.json();</pre>
<p>Also accepted: <code>${b}/api.example.com/data</code> (https is assumed) and <code>${b}/?url=&lt;percent-encoded URL&gt;</code>.</p>
<p>Cookies are neither forwarded nor returned, and credentialed requests (<code>credentials: 'include'</code>) are not supported: send tokens in a header.</p>
<p>When the proxy refuses a request, it answers JSON such as <code>{"error": "rate_limited", "message": "…"}</code> that your app can read.</p>
<h2>Diagnose a CORS error</h2>
<p>Why does the browser block a request? <a href="${b}/diagnose">Describe it in this form</a>: corsway asks the target what a browser would, then tells you the reason, what the target should send, and whether this proxy works instead.</p>
<h2>Active limits</h2>
<table>${rows}</table>
</body>
</html>
`;
}
