/**
 * Route choice for a new connection. `smooth` is nginx's smooth weighted round robin: exact
 * shares over every window of `total / gcd` picks (80/20 gives 8 and 2 in every 10 connections),
 * interleaved rather than in bursts. `random` draws by weight, as Envoy's weighted clusters do.
 */

/** How a listener spreads new connections over its routes. */
export type BalanceMode = "smooth" | "random";

/** Something with a weight; weight 0 is never picked. */
export interface Weighted {
  readonly weight: number;
}

/** Picks one item per call. */
export interface WeightedPicker<T> {
  pick(): T;
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
  if (candidates.length === 1) return { pick: () => first };

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
