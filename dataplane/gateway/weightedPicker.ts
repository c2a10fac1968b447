/**
 * Route choice for a new connection. `smooth` is nginx's smooth weighted round robin: exact
 * shares over every window of `total / gcd` picks (80/20 gives 8 and 2 in every 10 connections),
 * interleaved rather than in bursts. `random` draws by weight, as Envoy's weighted clusters do.
 *
 * `sticky` splits by client address: the address hashes to one of `STICKY_BUCKETS` buckets, and
 * the routes are stacked on the buckets from the LAST route down: with routes r1..rn and weights
 * w1..wn (total W), rn takes the lowest buckets, [0, B·wn/W), r(n-1) the next ones, and r1 the
 * highest. So with v1/v2, buckets below v2's share go to v2. Consequences:
 * - a client (an address) keeps its route as long as the weights do not change;
 * - a change that gives every tail of the route list (rk..rn, for each k) at least its old share
 *   moves clients only toward later routes, never back: raising v2 from 20 to 30 moves a tenth
 *   of the clients from v1 to v2 and no one from v2 to v1; lowering it moves clients only from
 *   v2 to v1;
 * - over many addresses, each route's share of clients tracks its weight (not its share of
 *   connections: a client that opens many connections counts many times).
 */

/** How a listener spreads new connections over its routes. */
export type BalanceMode = "smooth" | "random" | "sticky";

/** Buckets of the sticky split: a weight resolution of 0.01%. */
export const STICKY_BUCKETS = 10_000;

/**
 * The sticky bucket of a client address, 0 to `STICKY_BUCKETS - 1`: FNV-1a over the text, then
 * Murmur3's finaliser (FNV alone spreads addresses that differ in their last digit poorly). An
 * IPv4 address seen as IPv6 (`::ffff:10.0.0.1`) hashes as the IPv4 address.
 */
export function addressBucket(address: string): number {
  const text = address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return (hash >>> 0) % STICKY_BUCKETS;
}

/** Something with a weight; weight 0 is never picked. */
export interface Weighted {
  readonly weight: number;
}

/** Picks one item per call. */
export interface WeightedPicker<T> {
  /**
   * @param clientAddress the client's IP address: what `sticky` hashes (ignored otherwise); a
   *   sticky pick without it draws a bucket at random.
   */
  pick(clientAddress?: string): T;
  /** Whether `pick` uses the client address (the caller then has to find it). */
  readonly needsAddress: boolean;
}

/**
 * Create a picker over `items`. Items of weight 0 are dropped.
 * @param random source of [0, 1) numbers for `random` mode (tests pass a seeded one).
 * @throws Error when no item has a positive weight (the route file schema rejects that).
 */
export function createWeightedPicker<T extends Weighted>(
  items: readonly T[],
  mode: BalanceMode = "smooth",
  random: () => number = Math.random,
): WeightedPicker<T> {
  const candidates = items.filter((item) => item.weight > 0);
  const first = candidates[0];
  if (first === undefined) throw new Error("weighted picker needs an item with weight > 0");
  if (mode === "sticky") return stickyPicker(items, random);
  if (candidates.length === 1) return { pick: () => first, needsAddress: false };

  const weights = candidates.map((item) => item.weight);
  const total = weights.reduce((sum, weight) => sum + weight, 0);

  if (mode === "random") {
    const cumulative: number[] = [];
    let sum = 0;
    for (const weight of weights) {
      sum += weight;
      cumulative.push(sum);
    }
    return {
      needsAddress: false,
      pick() {
        const draw = random() * total;
        for (let i = 0; i < cumulative.length; i++)
          if (draw < (cumulative[i] as number)) return candidates[i] as T;
        return candidates[candidates.length - 1] as T;
      },
    };
  }

  // Smooth WRR: every pick adds each weight to its running score, takes the highest score
  // (first on ties, so the order is deterministic) and subtracts the total from it.
  const current = new Array<number>(candidates.length).fill(0);
  return {
    needsAddress: false,
    pick() {
      let best = 0;
      let bestScore = Number.NEGATIVE_INFINITY;
      for (let i = 0; i < current.length; i++) {
        const score = (current[i] as number) + (weights[i] as number);
        current[i] = score;
        if (score > bestScore) {
          bestScore = score;
          best = i;
        }
      }
      current[best] = bestScore - total;
      return candidates[best] as T;
    },
  };
}

/** The sticky split over `items` in file order (weight 0 items hold no buckets). */
function stickyPicker<T extends Weighted>(
  items: readonly T[],
  random: () => number,
): WeightedPicker<T> {
  const total = items.reduce((sum, item) => sum + item.weight, 0);
  // upper[i]: the end of item i's buckets; item i holds [upper[i + 1], upper[i]), the last item
  // [0, upper[n - 1]). Rounded down from exact tail sums, so a bigger tail share never shrinks.
  const upper: number[] = [];
  let tail = 0;
  for (let i = items.length - 1; i >= 0; i--) {
    tail += (items[i] as T).weight;
    upper[i] = Math.floor((STICKY_BUCKETS * tail) / total);
  }
  return {
    needsAddress: true,
    pick(clientAddress) {
      const bucket =
        clientAddress === undefined
          ? Math.floor(random() * STICKY_BUCKETS)
          : addressBucket(clientAddress);
      for (let i = items.length - 1; i > 0; i--)
        if (bucket < (upper[i] as number)) return items[i] as T;
      return items[0] as T;
    },
  };
}
