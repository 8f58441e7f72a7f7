import { html, raw } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';

/*
 * The proxy's own HTML pages. They are written with hono/html's `html`
 * template, which escapes every interpolated value unless it is itself a
 * fragment made by `html`: a value from a visitor, a target or the
 * configuration cannot become markup by a forgotten call. The only raw text
 * is the constant stylesheet.
 */

/** A piece of markup made by `html`, safe to interpolate into another. */
export type Fragment = HtmlEscapedString | Promise<HtmlEscapedString>;

const BASE_STYLE = `
body{font:16px/1.5 system-ui,sans-serif;margin:2rem auto;padding:0 1rem;color:#1d2330;background:#fcfcfd}
h1{font-size:1.6rem;margin:0 0 .2rem}h1+p{margin-top:0;color:#555}
h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #e3e5ea;padding-bottom:.2rem}
h3{font-size:1rem;margin:.2rem 0}
code,pre{font-family:ui-monospace,monospace;font-size:.875em;background:#f1f3f6;border-radius:4px}
code{padding:.1rem .3rem;overflow-wrap:anywhere;box-decoration-break:clone;-webkit-box-decoration-break:clone}
pre{line-height:1.45;padding:.8rem 1rem;overflow-x:auto}
a{color:#0b57d0}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #eceef2;vertical-align:top}
.muted{color:#666;font-size:.9rem}
`;

export interface Layout {
  /** The document title, as text. */
  readonly title: string;
  /** The page's content width. */
  readonly width: '46rem' | '58rem';
  /** Rules of this page on top of the shared ones; a constant of the page's module, never a value from outside. */
  readonly style?: string;
  /** Keep the page out of search engines. @default false */
  readonly noindex?: boolean;
  readonly body: Fragment;
}

/** A whole page: the shared head, styles and frame around `body`. */
export function layout({ title, width, style = '', noindex = false, body }: Layout): string {
  return render(html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${noindex ? html`<meta name="robots" content="noindex">` : ''}
<title>${title}</title>
<style>${raw(`${BASE_STYLE}body{max-width:${width}}${style}`)}</style>
</head>
<body>
${body}
</body>
</html>
`);
}

/** The markup of a fragment; the pages interpolate no promise, so it is complete now. */
export function render(fragment: Fragment): string {
  if (fragment instanceof Promise) throw new TypeError('a page fragment was asynchronous');
  return fragment.toString();
}
