import { html } from 'hono/html';
import type { Config } from '../config/config.ts';
import { describe, SETTINGS } from '../config/settings.ts';
import { layout } from './layout.ts';

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

const HELP_STYLE = 'h1+p{color:#555}th{font-weight:600;width:40%}';

export function helpHtml(config: Config, base: string): string {
  const rows = policyLines(config).map(([k, v]) => html`<tr><th scope="row">${k}</th><td>${v}</td></tr>`);
  return layout({
    title: 'corsway: a CORS proxy',
    width: '46rem',
    style: HELP_STYLE,
    body: html`<h1>corsway</h1>
<p>A CORS proxy: it fetches a URL for your web app and adds the CORS headers the target did not send.</p>
<h2>Usage</h2>
<p>Put the URL you want after this proxy's address:</p>
<pre>${base}/https://api.example.com/data</pre>
<p>From a web page:</p>
<pre>const response = await fetch('${base}/https://api.example.com/data');
const data = await response.json();</pre>
<p>Also accepted: <code>${base}/api.example.com/data</code> (https is assumed) and <code>${base}/?url=&lt;percent-encoded URL&gt;</code>.</p>
<p>Cookies are neither forwarded nor returned, and credentialed requests (<code>credentials: 'include'</code>) are not supported: send tokens in a header.</p>
<p>When the proxy refuses a request, it answers JSON such as <code>{"error": "rate_limited", "message": "…"}</code> that your app can read.</p>
<h2>Diagnose a CORS error</h2>
<p>Why does the browser block a request? <a href="${base}/diagnose">Describe it in this form</a>: corsway asks the target what a browser would, then tells you the reason, what the target should send, and whether this proxy works instead.</p>
<h2>Active limits</h2>
<table>${rows}</table>`,
  });
}
