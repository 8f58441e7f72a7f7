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
