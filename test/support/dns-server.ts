import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { isIPv4, isIPv6 } from 'node:net';

/** What the server says of one name: addresses with a TTL, or silence. */
export type Zone = Record<string, { addresses: string[]; ttl?: number } | 'silent'>;

const A = 1;
const AAAA = 28;

/**
 * A DNS server over UDP for tests (RFC 1035 §4): A and AAAA from `zone`,
 * NXDOMAIN for names it does not know, and no answer at all for names marked
 * `silent`, as a broken or hostile authoritative server behaves.
 */
export class DnsServer {
  readonly zone: Zone;
  /** `name type` of every query, in arrival order. */
  readonly queries: string[] = [];
  readonly #socket: Socket;

  constructor(zone: Zone) {
    this.zone = zone;
    this.#socket = createSocket('udp4');
    this.#socket.on('message', (query, peer) => {
      const answer = this.#answer(query);
      if (answer) this.#socket.send(answer, peer.port, peer.address);
    });
  }

  async start(port = 0, host = '127.0.0.1'): Promise<this> {
    this.#socket.bind(port, host);
    await once(this.#socket, 'listening');
    return this;
  }

  get port(): number {
    return this.#socket.address().port;
  }

  async stop(): Promise<void> {
    this.#socket.close();
    await once(this.#socket, 'close').catch(() => {});
  }

  #answer(query: Buffer): Buffer | null {
    const labels: string[] = [];
    let at = 12;
    while (at < query.length && query[at] !== 0) {
      const length = query[at] ?? 0;
      labels.push(query.subarray(at + 1, at + 1 + length).toString('latin1'));
      at += length + 1;
    }
    const questionEnd = at + 5;
    const type = query.readUInt16BE(at + 1);
    const name = labels.join('.').toLowerCase();
    this.queries.push(`${name} ${type === A ? 'A' : type === AAAA ? 'AAAA' : type}`);
    const entry = this.zone[name];
    if (entry === 'silent') return null;
    const records = (entry?.addresses ?? []).filter((a) => (type === A ? isIPv4(a) : type === AAAA && isIPv6(a)));
    const header = Buffer.alloc(12);
    query.copy(header, 0, 0, 2);
    // QR, opcode 0, AA, RD copied; RA; RCODE 3 (NXDOMAIN) for unknown names.
    header.writeUInt16BE(0x8400 | (query.readUInt16BE(2) & 0x0100) | 0x0080 | (entry ? 0 : 3), 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(records.length, 6);
    const answers = records.map((address) => {
      const rdata = type === A ? Buffer.from(address.split('.').map(Number)) : ipv6Bytes(address);
      const record = Buffer.alloc(12);
      record.writeUInt16BE(0xc00c, 0); // the name, as a pointer to the question
      record.writeUInt16BE(type, 2);
      record.writeUInt16BE(1, 4);
      record.writeUInt32BE(typeof entry === 'object' ? (entry.ttl ?? 60) : 60, 6);
      record.writeUInt16BE(rdata.length, 10);
      return Buffer.concat([record, rdata]);
    });
    return Buffer.concat([header, query.subarray(12, questionEnd), ...answers]);
  }
}

function ipv6Bytes(address: string): Buffer {
  const [head = '', tail = ''] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::')
    ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
    : left;
  const bytes = Buffer.alloc(16);
  for (const [i, g] of groups.entries()) bytes.writeUInt16BE(Number.parseInt(g, 16), i * 2);
  return bytes;
}
