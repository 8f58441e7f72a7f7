import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

/**
 * A request listener built on its first request: what builds it (and the
 * modules it imports) costs nothing in a process that is never asked for it.
 * The request waits, unread, while it loads; a listener that fails to load
 * (a broken install) fails that request and the next one tries again.
 */
export function lazyListener(load: () => Promise<RequestListener>): RequestListener {
  let loaded: RequestListener | undefined;
  let loading: Promise<RequestListener> | undefined;
  return (req: IncomingMessage, res: ServerResponse) => {
    if (loaded) {
      loaded(req, res);
      return;
    }
    loading ??= load();
    loading.then(
      (listener) => {
        loaded = listener;
        listener(req, res);
      },
      (error: unknown) => {
        loading = undefined;
        console.error(error);
        res.destroy();
      },
    );
  };
}
