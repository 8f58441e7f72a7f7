/**
 * Stops a request's upstream work once: when the client goes away, the
 * target is too slow, or the upload grows too large. A callback list rather
 * than an AbortController, because on Node 20 an AbortSignal with its
 * listeners costs more than the rest of a small proxied request's
 * bookkeeping; `signal` makes one only for an upstream that asks (fetch).
 */
export class Abort {
  #reason: unknown;
  #aborted = false;
  /** The first listener, then the rest in order: nearly every request has one, and an array grown from empty holds 17 slots. */
  #listener: ((reason: unknown) => void) | null = null;
  #more: Array<(reason: unknown) => void> | null = null;
  #controller: AbortController | null = null;
  #watching = false;

  /**
   * Called once, when the first listener or signal is asked for: where a
   * runtime's subclass starts watching for its client going away, so a
   * request answered without a target (a preflight) never pays for it. A
   * method, not a callback: a closure would hold a context for as long as
   * the request waits for its target (docs/decisions/node24-pretenuring.md).
   */
  protected watch(): void {}

  #watched(): void {
    if (this.#watching) return;
    this.#watching = true;
    this.watch();
  }

  /** Aborts once; later calls do nothing. */
  abort(reason: unknown = new DOMException('This operation was aborted', 'AbortError')): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    const first = this.#listener;
    const more = this.#more;
    this.#listener = null;
    this.#more = null;
    first?.(reason);
    if (more) for (const listener of more) listener(reason);
    this.#controller?.abort();
  }

  /** Calls `listener` with the reason once aborted (at once if it already is). */
  onAbort(listener: (reason: unknown) => void): void {
    this.#watched();
    if (this.#aborted) listener(this.#reason);
    else if (this.#listener === null) this.#listener = listener;
    else if (this.#more === null) this.#more = [listener];
    else this.#more.push(listener);
  }

  /**
   * The same, as an AbortSignal, for a fetch. It is aborted without the
   * reason: workerd reports a fetch aborted with a reason of the Worker's own
   * as an uncaught exception (in the Worker's logs; wrangler dev prints each
   * one and, after some dozens, stops answering), and callers learn the reason
   * from their listener or from what they recorded (the body's error, the timer).
   */
  get signal(): AbortSignal {
    this.#watched();
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort();
    }
    return this.#controller.signal;
  }

  /** An Abort that follows `signal` (a Fetch runtime's request signal). */
  static following(signal: AbortSignal): Abort {
    const abort = new Abort();
    if (signal.aborted) abort.abort(signal.reason);
    else signal.addEventListener('abort', () => abort.abort(signal.reason), { once: true });
    return abort;
  }
}
