/**
 * The `power` section of the server config: one zod schema, the source of its validation and
 * its defaults. Every key is defaulted, so an empty section is valid.
 */
import { z } from "zod";
import { KEEP_ALIVE_LIMIT_MS, KEEP_ALIVE_LIMIT_TEXT } from "./models/keep_alive.ts";

/** Requests one model runs at once by default; the rest wait in its queue. */
export const DEFAULT_CONCURRENCY = 8;
/** Concurrent decode steps batched into one ONNX Runtime call by default. */
export const DEFAULT_BATCH_SIZE = 8;
/** Ollama's default keep-alive: five minutes. */
export const DEFAULT_KEEP_ALIVE_MS = 5 * 60_000;
/** The most requests or batched steps a model may take on at once. */
const MAX_PARALLEL = 256;

/** The validated `power` section. */
export interface PowerSection {
  /** Most bytes of weights loaded at once; unlimited when unset. */
  memoryBudgetBytes?: number;
  /** Requests one model runs at once; the rest wait in its queue. */
  concurrency: number;
  /** Most concurrent decode steps run as one batch; 1 turns batching off. */
  batchSize: number;
  /** How long an idle model stays loaded, in milliseconds. */
  keepAliveMs: number;
  /** Extra read-only models: name to directory. */
  models: Record<string, string>;
  /** Do not serve the shipped default model. */
  noDefaultModel: boolean;
  /** Do not load the default model when serve starts. */
  noPreload: boolean;
}

/**
 * Validates the `power` section of the config file.
 *
 * @example
 * ```ts
 * import { PowerSectionSchema } from "./config.ts";
 * console.log(PowerSectionSchema.parse({}).concurrency); // 8
 * ```
 */
export const PowerSectionSchema: z.ZodType<PowerSection> = z.object({
  memoryBudgetBytes: z.number().int().positive().optional(),
  concurrency: z.number().int().min(1).max(MAX_PARALLEL).default(DEFAULT_CONCURRENCY),
  batchSize: z.number().int().min(1).max(MAX_PARALLEL).default(DEFAULT_BATCH_SIZE),
  keepAliveMs: z.number().int().min(0).max(KEEP_ALIVE_LIMIT_MS, {
    message: `must be at most ${KEEP_ALIVE_LIMIT_TEXT}`,
  }).default(DEFAULT_KEEP_ALIVE_MS),
  models: z.record(z.string().min(1), z.string().min(1)).default({}),
  noDefaultModel: z.boolean().default(false),
  noPreload: z.boolean().default(false),
});
