import { clientKey } from '../../src/core/address.ts';
import { partIndex } from '../../src/limiters/shard.ts';

/**
 * One address from `candidates` per part of a budget split in `parts`
 * (CORSWAY_RATE_LIMIT_SHARDS), in part order: clients that together reach every part.
 */
export function onePerPart(candidates: readonly string[], parts: number): string[] {
  const chosen: string[] = [];
  for (const address of candidates) chosen[partIndex(clientKey(address), parts)] ??= address;
  if (chosen.filter(Boolean).length !== parts) throw new Error(`the candidates reach fewer than ${parts} parts`);
  return chosen;
}

/**
 * Each client of `clients` (one per part, in part order) sends `sizes[part] + 1`
 * requests one after another through `get`; returns every client's answers.
 */
export async function spendParts<R>(
  clients: readonly string[],
  sizes: readonly number[],
  get: (client: string, nth: number) => Promise<R>,
): Promise<R[][]> {
  const seen: R[][] = [];
  for (const [part, client] of clients.entries()) {
    const answers: R[] = [];
    for (let nth = 0; nth <= (sizes[part] ?? 0); nth++) answers.push(await get(client, nth));
    seen.push(answers);
  }
  return seen;
}

/** How many of each client's answers were 200. */
export const admitted = (seen: readonly (readonly { status: number }[])[]) =>
  seen.map((answers) => answers.filter((a) => a.status === 200).length);
