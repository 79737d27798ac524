/** Privacy levels, ordered: a message's level is the highest level of anything in it. */

/**
 * The four levels, lowest first.
 *
 * @example
 * ```ts
 * import { LEVELS } from "@a3s/safeclaw";
 * console.log(LEVELS[3]); // "Critical"
 * ```
 */
export const LEVELS = ["Normal", "Sensitive", "HighlySensitive", "Critical"] as const;

/** A privacy level. */
export type Level = (typeof LEVELS)[number];

/** The rank of `level` (Normal = 0). */
export function levelRank(level: Level): number {
  return LEVELS.indexOf(level);
}

/** The higher of two levels. */
export function maxLevel(a: Level, b: Level): Level {
  return levelRank(a) >= levelRank(b) ? a : b;
}

/** Whether `level` is at or above `threshold`. */
export function atLeast(level: Level, threshold: Level): boolean {
  return levelRank(level) >= levelRank(threshold);
}
