import { html } from 'hono/html';
import { type Fragment, layout } from '../pages/layout.ts';
import type { Diagnosis, Fields, Step } from './types.ts';

/*
 * The diagnosis as the proxy's own HTML page, in the shared layout. Everything
 * the target or the visitor supplied is interpolated into hono/html templates,
 * which escape it. The page has no script and loads nothing (see the CSP in
 * diagnose.ts).
 */

export interface PageView {
  /** Where the form submits (the proxy's /diagnose). */
  readonly action: string;
  /** The fields as submitted, shown again in the form. */
  readonly fields: Fields;
  readonly diagnosis: Diagnosis | null;
  /** A refusal of the proxy (target not allowed, rate limited ...). */
  readonly error: { readonly code: string; readonly message: string } | null;
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];
const CONTENT_TYPES = [
  'application/json',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data',
  'application/xml',
];

const STYLE = `
h1{font-size:1.6rem;margin:0}h1+p{margin-top:.2rem;color:#555}
h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #e3e5ea;padding-bottom:.2rem}
h3{font-size:1rem;margin:.2rem 0}
code,pre,input,select{font:14px/1.45 ui-monospace,monospace}
pre{background:#f1f3f6;border-radius:4px;padding:.7rem 1rem;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
form{display:grid;grid-template-columns:max-content 1fr;gap:.45rem .8rem;align-items:center;background:#f4f6f9;padding:1rem;border-radius:6px}
label{font-weight:600}label small{display:block;font-weight:400;color:#666}
input,select{padding:.35rem .5rem;border:1px solid #c5cad3;border-radius:4px;background:#fff;width:100%;box-sizing:border-box}
button{grid-column:2;justify-self:start;font:inherit;font-weight:600;padding:.45rem 1.4rem;border:0;border-radius:4px;background:#2450b2;color:#fff;cursor:pointer}
.verdict{margin-top:1.5rem;padding:1rem 1.2rem;border-radius:6px;border-left:6px solid}
.verdict h2{margin:0;border:0;font-size:1.4rem}.verdict p{margin:.4rem 0 0}
.blocked{background:#fef3f2;border-color:#d92d20}.blocked h2{color:#b42318}
.allowed{background:#ecfdf3;border-color:#12b76a}.allowed h2{color:#067647}
.refused{background:#fffaeb;border-color:#f79009}.refused h2{color:#b54708}
.muted{color:#666;font-size:.9rem}
ol.steps{padding:0;list-style:none}
.step{border:1px solid #e3e5ea;border-radius:6px;padding:.8rem 1rem;margin:.8rem 0;background:#fff}
.step.fail{border-color:#fda29b}.step.pass{border-color:#a6f4c5}
.badge{display:inline-block;font-size:.78rem;font-weight:600;padding:0 .5rem;border-radius:9px;margin-left:.4rem;vertical-align:middle}
.badge.pass{background:#dcfae6;color:#067647}.badge.fail{background:#fee4e2;color:#b42318}.badge.info{background:#eef2f6;color:#364152}
table{border-collapse:collapse;width:100%;margin:.3rem 0}
th,td{text-align:left;padding:.2rem .5rem;border-bottom:1px solid #eceef2;vertical-align:top;font:13px/1.45 ui-monospace,monospace;word-break:break-all}
th{width:32%;font-weight:400;color:#364152}
tr.cors th,tr.cors td{font-weight:700;color:#1d2330;background:#f5f8ff}
.findings{margin:.5rem 0 0;padding-left:1.2rem;color:#b42318}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:1rem}@media(max-width:44rem){.cols{grid-template-columns:1fr}form{grid-template-columns:1fr}button{grid-column:1}}
`;

interface InputOptions {
  readonly required?: boolean;
  readonly placeholder?: string;
  /** The id of a datalist of suggestions. */
  readonly list?: string;
  readonly autocomplete?: string;
}

function input(
  name: keyof Fields,
  label: string,
  hint: string,
  value: string | undefined,
  o: InputOptions = {},
): Fragment {
  return html`<label for="f-${name}">${label}<small>${hint}</small></label><input id="f-${name}" name="${name}" value="${value ?? ''}"${o.required ? html` required` : ''}${o.placeholder ? html` placeholder="${o.placeholder}"` : ''}${o.list ? html` list="${o.list}"` : ''}${o.autocomplete ? html` autocomplete="${o.autocomplete}"` : ''}>`;
}

function form(view: PageView): Fragment {
  const f = view.fields;
  const credentials = f.credentials || 'same-origin';
  const options = ['same-origin', 'omit', 'include'].map(
    (v) => html`<option${v === credentials ? html` selected` : ''}>${v}</option>`,
  );
  return html`<form method="get" action="${view.action}">
${input('url', 'Target URL', 'what the page fetches', f.url, { required: true, placeholder: 'https://api.example.com/data', autocomplete: 'url' })}
${input('origin', 'Page origin', 'where the page is served from', f.origin, { required: true, placeholder: 'https://app.example.com' })}
${input('method', 'Method', 'GET, POST, PUT ...', f.method || 'GET', { list: 'methods' })}
${input('headers', 'Request headers', 'names the page sets, comma-separated', f.headers, { placeholder: 'authorization, x-requested-with' })}
${input('content-type', 'Content-Type', 'of the request body, if any', f['content-type'], { list: 'types', placeholder: 'application/json' })}
<label for="f-credentials">Credentials<small>fetch()'s credentials option</small></label><select id="f-credentials" name="credentials">${options}</select>
${input('read', 'Headers read', 'response headers the page reads', f.read, { placeholder: 'x-total-count' })}
<button type="submit">Diagnose</button>
</form>
<datalist id="methods">${METHODS.map((m) => html`<option value="${m}">`)}</datalist>
<datalist id="types">${CONTENT_TYPES.map((t) => html`<option value="${t}">`)}</datalist>`;
}

function headerTable(headers: Record<string, string>): Fragment {
  const rows = Object.entries(headers).map(
    ([name, value]) =>
      html`<tr${name.startsWith('access-control-') || name === 'location' ? html` class="cors"` : ''}><th scope="row">${name}</th><td>${value}</td></tr>`,
  );
  return rows.length > 0 ? html`<table>${rows}</table>` : html`<p class="muted">(no headers)</p>`;
}

const STEP_TITLES: Record<Step['kind'], string> = {
  preflight: 'Preflight',
  probe: 'OPTIONS probe',
  request: 'Request',
};

function step(s: Step, index: number): Fragment {
  const failed = s.findings.length > 0;
  const badge = failed
    ? html`<span class="badge fail">browser stops here</span>`
    : s.sent
      ? html`<span class="badge pass">passes</span>`
      : html`<span class="badge pass">passes (judged, not sent)</span>`;
  const response =
    s.status === null
      ? ''
      : html`<div><h3>Target answered ${s.status}</h3>${headerTable(s.responseHeaders ?? {})}</div>`;
  return html`<li class="step ${failed ? 'fail' : 'pass'}">
<h3>${index + 1}. ${STEP_TITLES[s.kind]}: <code>${s.method} ${s.url}</code>${badge}</h3>
${s.note ? html`<p class="muted">${s.note}</p>` : ''}
<div class="cols"><div><h3>${s.sent ? 'corsway sent' : 'The browser would send'}</h3>${headerTable(s.requestHeaders)}</div>${response}</div>
${failed ? html`<ul class="findings">${s.findings.map((f) => html`<li>${f.message}</li>`)}</ul>` : ''}
</li>`;
}

function lines(headers: Record<string, string>): string {
  return Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}`)
    .join('\n');
}

/** The fetch() call that works through the proxy, as text (the template escapes it). */
function snippet(d: Diagnosis): string {
  const init: string[] = [];
  if (d.request.method !== 'GET') init.push(`method: '${d.request.method}'`);
  const headers = d.request.headers.map((h) => `'${h}': ${h === 'content-type' ? `'${d.request.contentType}'` : '…'}`);
  if (headers.length > 0) init.push(`headers: { ${headers.join(', ')} }`);
  const args = init.length > 0 ? `, { ${init.join(', ')} }` : '';
  return `const response = await fetch('${d.proxy.url}'${args});`;
}

function result(d: Diagnosis): Fragment {
  const r = d.request;
  const kind =
    d.kind === 'same-origin'
      ? 'A same-origin request: CORS does not apply.'
      : d.kind === 'simple'
        ? 'A simple request: the browser sends it without a preflight, then checks the response.'
        : `A preflighted request: the browser first asks the target with OPTIONS, because ${d.preflightReasons.join('; ')}.`;
  const verdict =
    d.verdict === 'allowed'
      ? html`<section class="verdict allowed"><h2>Allowed</h2><p>A page on <code>${r.origin}</code> can make this request and read the response.</p>${d.steps.some((s) => !s.sent) ? html`<p class="muted">Judged from the target's answer to OPTIONS: corsway did not send the ${r.method} request itself.</p>` : ''}</section>`
      : html`<section class="verdict blocked"><h2>Blocked</h2><p>${d.reason?.message ?? ''}</p><p class="muted">reason: <code>${d.reason?.code ?? ''}</code></p></section>`;
  const fix = d.fix
    ? html`<h2>What the target should send</h2><p>${d.fix.message}</p>${
        d.fix.preflight
          ? html`<h3>On its answer to the preflight (OPTIONS)</h3><pre>${`HTTP/1.1 204 No Content\n${lines(d.fix.preflight)}`}</pre>`
          : ''
      }${Object.keys(d.fix.response).length > 0 ? html`<h3>On its answer to ${r.method}</h3><pre>${lines(d.fix.response)}</pre>` : ''}`
    : '';
  const proxy = html`<h2>${d.proxy.works && d.verdict === 'blocked' ? 'Works now through this proxy' : 'Through this proxy'}</h2>
<p>${d.proxy.message}</p>${d.proxy.works ? html`<pre>${snippet(d)}</pre>` : html`<p><code>${d.proxy.url}</code></p>`}`;
  const notes = d.notes.length > 0 ? html`<h2>Notes</h2><ul>${d.notes.map((n) => html`<li>${n}</li>`)}</ul>` : '';
  const steps =
    d.steps.length > 0
      ? html`<ol class="steps">${d.steps.map(step)}</ol>`
      : html`<p class="muted">Nothing was sent: the browser decides before any request.</p>`;
  return html`${verdict}
<h2>What the browser does</h2>
<p>${kind}</p>
${steps}
${fix}
${proxy}
${notes}`;
}

export function diagnosePage(view: PageView): string {
  const body = view.error
    ? html`<section class="verdict refused"><h2>Not diagnosed</h2><p>${view.error.message}</p><p class="muted">error: <code>${view.error.code}</code></p></section>`
    : view.diagnosis
      ? result(view.diagnosis)
      : '';
  const verdict = view.diagnosis ? `${view.diagnosis.verdict === 'allowed' ? 'Allowed' : 'Blocked'}: ` : '';
  return layout({
    title: `${verdict}CORS diagnosis · corsway`,
    width: '58rem',
    style: STYLE,
    noindex: true,
    body: html`<h1>Why is my request blocked?</h1>
<p>corsway asks the target what a browser would ask, and applies the browser's CORS rules to its answers. It sends only OPTIONS, GET and HEAD.</p>
${form(view)}
${body}
<p class="muted">The same diagnosis as JSON: request this page without <code>Accept: text/html</code>, e.g. with curl. · <a href="${view.action.replace(/\/diagnose$/, '') || '/'}">About this proxy</a></p>`,
  });
}
