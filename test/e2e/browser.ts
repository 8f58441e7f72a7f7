import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

/**
 * Debian's `chromium` package; playwright's own browser downloads are not used.
 * @default '/usr/bin/chromium', or CHROMIUM_PATH when set
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/**
 * Chromium opens connections of its own (component updates, sync, QUIC probes)
 * unless told not to; the suite's traffic must stay on loopback.
 */
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A headless Chromium with a fresh profile, shared by the tests of one file. */
export interface Browser {
  /** A new tab that records what the browser printed to its console (CORS errors land there). */
  newPage(): Promise<BrowserPage>;
  close(): Promise<void>;
}

export interface BrowserPage {
  readonly page: Page;
  /** Console messages so far, e.g. "Access to fetch at ... has been blocked by CORS policy". */
  readonly console: string[];
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), 'corsway-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: ARGS,
    });
  } catch (error) {
    await rm(profile, { recursive: true, force: true });
    throw new Error(
      `Chromium did not start from ${CHROMIUM_PATH} (install Debian's chromium package or set CHROMIUM_PATH): ${error}`,
    );
  }
  return {
    async newPage() {
      const page = await context.newPage();
      const messages: string[] = [];
      page.on('console', (message) => messages.push(message.text()));
      return { page, console: messages, close: () => page.close() };
    },
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** The page's own origin: a blank HTML page the tests run `fetch()` in. */
export interface PageServer {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  stop(): Promise<void>;
}

export async function startPageServer(): Promise<PageServer> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><html lang="en"><head><title>corsway e2e</title></head><body></body></html>');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    async stop() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close').catch(() => {});
    },
  };
}

/** What a `fetch()` run inside the page saw: the response, or the error the page caught. */
export type PageFetch =
  | {
      readonly ok: true;
      readonly status: number;
      /** The requested headers as the page can read them (null when hidden or absent). */
      readonly headers: Record<string, string | null>;
      readonly text: string;
    }
  | { readonly ok: false; readonly error: string };

export interface PageFetchOptions {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly credentials?: 'omit' | 'same-origin' | 'include';
  /** Response headers to read through `response.headers.get()`. @default [] */
  readonly read?: readonly string[];
}

/** Runs `fetch(url, options)` in the page, as the page's own script would. */
export function fetchInPage(page: Page, url: string, options: PageFetchOptions = {}): Promise<PageFetch> {
  return page.evaluate(
    async ({ url, options }) => {
      try {
        const { read = [], ...init } = options;
        const response = await fetch(url, init);
        const headers: Record<string, string | null> = {};
        for (const name of read) headers[name] = response.headers.get(name);
        return { ok: true as const, status: response.status, headers, text: await response.text() };
      } catch (error) {
        return { ok: false as const, error: String(error) };
      }
    },
    { url, options },
  );
}
