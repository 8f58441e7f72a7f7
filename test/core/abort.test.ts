import { describe, expect, test } from 'vitest';
import { Abort } from '../../src/core/abort.ts';

describe('Abort: stops a request once, for every listener', () => {
  test('listeners hear the reason once, however often abort() is called; late listeners at once', () => {
    const abort = new Abort();
    const heard: unknown[] = [];
    abort.onAbort((reason) => heard.push(reason));
    abort.abort('first');
    abort.abort('second');
    abort.onAbort((reason) => heard.push(`late ${String(reason)}`));
    expect(heard).toEqual(['first', 'late first']);
  });

  test('every listener added before the abort hears it once, in the order added', () => {
    const abort = new Abort();
    const heard: string[] = [];
    for (const name of ['a', 'b', 'c']) abort.onAbort((reason) => heard.push(`${name} ${String(reason)}`));
    abort.abort('gone');
    abort.abort('again');
    expect(heard).toEqual(['a gone', 'b gone', 'c gone']);
  });

  test('the watch starts with the first listener or signal, never for a request nobody listens to', () => {
    let watched = 0;
    class Watched extends Abort {
      protected override watch(): void {
        watched++;
      }
    }
    const quiet = new Watched();
    quiet.abort();
    expect(watched).toBe(0);
    const busy = new Watched();
    busy.onAbort(() => {});
    busy.onAbort(() => {});
    void busy.signal;
    expect(watched).toBe(1);
  });

  test('signal follows, whether asked for before or after the abort, without the reason (workerd would log it as uncaught)', () => {
    const before = new Abort();
    const signal = before.signal;
    let heard: unknown;
    before.onAbort((reason) => (heard = reason));
    before.abort('gone');
    expect(heard).toBe('gone');
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toMatchObject({ name: 'AbortError' });
    const after = new Abort();
    after.abort('late');
    expect(after.signal.aborted).toBe(true);
    expect(after.signal.reason).toMatchObject({ name: 'AbortError' });
  });

  test('following(signal) aborts with the signal, and at once when it already was', () => {
    const controller = new AbortController();
    const abort = Abort.following(controller.signal);
    controller.abort('client left');
    let reason: unknown;
    abort.onAbort((r) => (reason = r));
    expect(reason).toBe('client left');
    let early: unknown;
    Abort.following(AbortSignal.abort('done')).onAbort((r) => (early = r));
    expect(early).toBe('done');
  });
});
