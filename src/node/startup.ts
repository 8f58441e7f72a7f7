import { type Listen, listenUrl } from '../config/config.ts';

/** An error from `server.listen`: Node's errno code and, for a name, the syscall that failed. */
interface ListenError {
  readonly code?: string;
  readonly syscall?: string;
  readonly message: string;
}

/**
 * One line for a server that could not listen, naming the problem and the
 * variable (and flag) that fixes it: what a first run most often meets is a
 * port already taken, and Node's own report of it is an unhandled-error stack.
 */
export function listenFailure(error: ListenError, listen: Listen): string {
  const where = `${listen.host} port ${listen.port}`;
  switch (error.code) {
    case 'EADDRINUSE':
      return `corsway: port ${listen.port} is already in use on ${listen.host} (another program, or another corsway, listens there); choose a free port with PORT or --port (e.g. PORT=${listen.port === 8080 ? 8081 : 8080}), or stop that program`;
    case 'EACCES':
      return `corsway: not permitted to listen on ${where}${listen.port > 0 && listen.port < 1024 ? ' (ports below 1024 need privileges)' : ''}; choose a port from 1024 up with PORT or --port, or give node the right to bind it (the cap_net_bind_service capability)`;
    case 'EADDRNOTAVAIL':
      return `corsway: HOST ${listen.host} is not an address of this machine; set HOST or --host to one of its addresses: 127.0.0.1 for this machine only, 0.0.0.0 for every interface`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
    case 'EAI_FAIL':
      return `corsway: HOST ${listen.host} could not be resolved to an address (${error.code}); set HOST or --host to an address such as 127.0.0.1 or 0.0.0.0, or to a name this machine resolves`;
    default:
      return `corsway: could not listen on ${where}: ${error.message}; check HOST and PORT (--host, --port)`;
  }
}

/** Whether a bound address reaches only this machine. */
export function isLoopback(address: string): boolean {
  return /^(::ffff:)?127\./.test(address) || address === '::1';
}

/**
 * The "listening" line, and a warning when private targets are allowed on an
 * address other machines reach: that is an open door into the operator's
 * network, so it is said loudly, though started (a lab or a container may mean it).
 */
export function announce(
  address: string,
  port: number,
  allowPrivateNetwork: boolean,
  workers = 1,
): { line: string; warning?: string } {
  const url = listenUrl(address, port);
  const many = workers > 1 ? ` with ${workers} workers` : '';
  if (!allowPrivateNetwork) return { line: `corsway listening on ${url}${many}` };
  if (isLoopback(address)) {
    return { line: `corsway listening on ${url}${many} (loopback only: private targets are allowed)` };
  }
  return {
    line: `corsway listening on ${url}${many}`,
    warning: `corsway: WARNING: CORSWAY_ALLOW_PRIVATE_NETWORK is on and HOST ${address} is reachable from other machines: anyone who reaches port ${port} can use this proxy to fetch from your private network. Leave HOST unset (loopback) unless that is intended.`,
  };
}
