/** What the proxy reads and writes of a set of header fields: WHATWG Headers and Fields both have it. */
export interface HeaderMap {
  get(name: string): string | null;
  has(name: string): boolean;
  set(name: string, value: string): void;
  append(name: string, value: string): void;
  delete(name: string): void;
  forEach(callback: (value: string, name: string) => void): void;
}

/**
 * Header fields as the proxy builds them: lower-case names in the order they
 * were added, repeated names kept. Names from outside (a client's, a
 * target's) are lower-cased on the way in; the proxy's own calls name
 * fields in lower case, as HTTP/2 and Node spell them, so lookups compare
 * names as they are. Not the WHATWG Headers class, which on
 * Node 20 checks every name and value, sorts on every iteration and, on
 * first use, loads Node's internal fetch (about 9 MB): together more than
 * the rest of the bookkeeping of a small proxied request. Names and values
 * are checked where they leave, by node:http or by `fetch`.
 */
export class Fields implements HeaderMap {
  /** name, value, name, value ... */
  #list: string[] = [];

  constructor(init?: HeaderMap | Readonly<Record<string, string>>) {
    if (!init) return;
    if (typeof init.forEach === 'function') {
      (init as HeaderMap).forEach((value, name) => {
        this.#list.push(name.toLowerCase(), value);
      });
      return;
    }
    for (const [name, value] of Object.entries(init)) this.#list.push(name.toLowerCase(), value);
  }

  /** From Node's `rawHeaders` (name, value, ... as sent). */
  static fromRaw(raw: readonly string[]): Fields {
    // A copy of exactly its length: grown by push it would hold up to 17 slots of slack, for as long as the request lasts.
    const list = raw.slice();
    for (let i = 0; i < list.length; i += 2) list[i] = (list[i] as string).toLowerCase();
    return Fields.adopt(list);
  }

  /** Over `list` (name, value, ..., names lower case) itself, not a copy: the caller lets go of it. */
  static adopt(list: string[]): Fields {
    const fields = new Fields();
    fields.#list = list;
    return fields;
  }

  /** Every value of `name` (lower case) joined with ", ", as Headers.get does; null when absent. */
  get(name: string): string | null {
    const list = this.#list;
    let found: string | null = null;
    for (let i = 0; i < list.length; i += 2) {
      if (list[i] === name) found = found === null ? (list[i + 1] as string) : `${found}, ${list[i + 1]}`;
    }
    return found;
  }

  has(name: string): boolean {
    const list = this.#list;
    for (let i = 0; i < list.length; i += 2) if (list[i] === name) return true;
    return false;
  }

  set(name: string, value: string): void {
    this.delete(name);
    this.#list.push(name, value);
  }

  append(name: string, value: string): void {
    this.#list.push(name, value);
  }

  delete(name: string): void {
    const list = this.#list;
    for (let i = list.length - 2; i >= 0; i -= 2) if (list[i] === name) list.splice(i, 2);
  }

  forEach(callback: (value: string, name: string) => void): void {
    const list = this.#list;
    for (let i = 0; i < list.length; i += 2) callback(list[i + 1] as string, list[i] as string);
  }

  /** name, value, name, value ...: what node:http's writeHead and undici take. */
  flat(): string[] {
    return this.#list.slice();
  }

  /**
   * One value per name, repeated names joined with ", " as RFC 9110 5.3 allows
   * (the proxy relays no Set-Cookie, the one field that cannot be joined): what
   * `fetch` and Response take at the least cost in workerd, about a fourteenth
   * of a small proxied request's CPU less than pairs (docs/decisions/worker-cpu.md).
   */
  record(): Record<string, string> {
    const list = this.#list;
    // No prototype: a field named `constructor` or `__proto__` is a field like any other.
    const out: Record<string, string> = Object.create(null);
    for (let i = 0; i < list.length; i += 2) {
      const name = list[i] as string;
      const prior = out[name];
      out[name] = prior === undefined ? (list[i + 1] as string) : `${prior}, ${list[i + 1]}`;
    }
    return out;
  }

  /** [name, value] pairs: what `fetch`, Request and Response take. */
  pairs(): [string, string][] {
    const pairs: [string, string][] = [];
    this.forEach((value, name) => {
      pairs.push([name, value]);
    });
    return pairs;
  }
}

/** RFC 9110 5.6.2 `token`: what a method or a header name is made of. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function isToken(text: string): boolean {
  return TOKEN.test(text);
}
