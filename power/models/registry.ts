/**
 * Loaded models: load on demand, a per-model queue with a concurrency limit, `keep_alive`
 * unloading and a memory budget that refuses loads which would exceed it.
 */
import { join } from "node:path";
import { A3sError, gauge } from "@a3s/common";
import { loadTokenizer, type Tokenizer } from "../engine/_tokenizer.ts";
import type { LanguageModel } from "../engine/generate.ts";
import { type ModelManifest, readModelDir } from "../engine/model_dir.ts";
import { CausalLM, EncoderModel } from "../engine/session.ts";
import { StepBatcher } from "../engine/batch.ts";
import type { Pooling } from "../engine/embed.ts";
import type { ModelStore } from "./store.ts";
import { normalizeName } from "./names.ts";
import { parseKeepAlive } from "./keep_alive.ts";
import { DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENCY, DEFAULT_KEEP_ALIVE_MS } from "../config.ts";
import { type CancelTimer, setLongTimeout } from "./_long_timeout.ts";

/** What is known of a model in memory, as `/api/ps` shows it. */
export interface LoadedModelInfo {
  /** Its normalized name (`name:tag`). */
  name: string;
  /** The digest of its files, as the store reports it. */
  digest: string;
  /** Bytes of weights it holds. */
  sizeBytes: number;
  /** When it was loaded. */
  loadedAt: Date;
  /** When it will be unloaded if idle; the latest date means "until unloaded". */
  expiresAt: Date;
}

/** Loading and unloading models: the part of the registry power's users see. */
export interface ModelLifecycle {
  /** Loads `name` if it is not in memory yet, making room under the memory budget. */
  load(name: string): Promise<{ model: LoadedModelInfo; loadNs: number }>;
  /** Unloads `name` now unless a request is using it; true when it was unloaded. */
  unload(name: string): Promise<boolean>;
  /** The models in memory. */
  loaded(): LoadedModelInfo[];
  /**
   * Loads `name` and keeps it for `keepAlive` (Ollama's idiom: a request with nothing to
   * generate loads a model, or unloads it with a keep-alive of 0).
   */
  keep(name: string, keepAlive: string | number): Promise<void>;
}

/** A model in memory, with the sessions that run it. */
export interface LoadedModel extends LoadedModelInfo {
  manifest: ModelManifest;
  tokenizer: Tokenizer;
  /** Set for causal LMs. */
  language?: LanguageModel;
  /** Set for encoder embedding models. */
  encoder?: EncoderModel;
  pooling: Pooling;
  loadNs: number;
}

/** Settings of the registry. */
export interface RegistryOptions {
  /** Most bytes of weights loaded at once; unlimited when unset. */
  memoryBudgetBytes?: number;
  /** Requests one model runs at once; the rest wait in its queue. */
  concurrency?: number;
  /** Default keep-alive in milliseconds (Ollama's default is five minutes). */
  keepAliveMs?: number;
  /** Most concurrent decode steps run as one batch; 1 turns batching off. */
  batchSize?: number;
}

const loadedGauge = gauge({ name: "a3s_power_models_loaded", help: "Models held in memory." });
const queuedGauge = gauge({
  name: "a3s_power_requests_queued",
  help: "Requests waiting for a model slot.",
  labelNames: ["model"],
});

/** A counting semaphore whose waiters can give up. */
class Slots {
  #free: number;
  #waiters: (() => void)[] = [];
  constructor(size: number) {
    this.#free = size;
  }
  get waiting(): number {
    return this.#waiters.length;
  }
  async take(signal?: AbortSignal): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return;
    }
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const waiter = () => resolve();
    this.#waiters.push(waiter);
    const onAbort = () => {
      const i = this.#waiters.indexOf(waiter);
      if (i >= 0) this.#waiters.splice(i, 1);
      reject(
        new A3sError("cancelled", "request cancelled while queued", {
          status: CLIENT_CLOSED_REQUEST,
        }),
      );
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      await promise;
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }
  give(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#free++;
  }
}

/** "Client closed request": the status of work given up because its caller went away. */
export const CLIENT_CLOSED_REQUEST = 499;
const BYTES_PER_MIB = 1 << 20;

/** The latest instant a `Date` can hold: "loaded until unloaded". */
export const LATEST_DATE_MS = 8.64e15;

async function poolingOf(manifest: ModelManifest): Promise<Pooling> {
  if (manifest.kind === "causal") return "mean";
  try {
    const config = JSON.parse(
      await Deno.readTextFile(join(manifest.dir, "1_Pooling", "config.json")),
    );
    if (config.pooling_mode_cls_token) return "cls";
    if (config.pooling_mode_lasttoken) return "last";
  } catch {
    // No sentence-transformers pooling config: mean pooling.
  }
  return "mean";
}

/**
 * Holds loaded models and runs requests against them.
 *
 * @example
 * ```ts
 * const registry = new ModelRegistry(store, { concurrency: 2 });
 * const answer = await registry.use("tiny", undefined, (model) => model.manifest.modelType);
 * ```
 */
export class ModelRegistry implements ModelLifecycle {
  readonly store: ModelStore;
  readonly options: Required<Omit<RegistryOptions, "memoryBudgetBytes">> & {
    memoryBudgetBytes: number;
  };
  #loaded = new Map<string, LoadedModel>();
  #loading = new Map<string, Promise<LoadedModel>>();
  #slots = new Map<string, Slots>();
  #active = new Map<string, number>();
  #timers = new Map<string, CancelTimer>();

  constructor(store: ModelStore, options: RegistryOptions = {}) {
    this.store = store;
    this.options = {
      memoryBudgetBytes: options.memoryBudgetBytes ?? Infinity,
      concurrency: options.concurrency ?? DEFAULT_CONCURRENCY,
      keepAliveMs: options.keepAliveMs ?? DEFAULT_KEEP_ALIVE_MS,
      batchSize: options.batchSize ?? DEFAULT_BATCH_SIZE,
    };
  }

  /** Models in memory now. */
  loaded(): LoadedModel[] {
    return [...this.#loaded.values()];
  }

  #usedBytes(): number {
    let used = 0;
    for (const m of this.#loaded.values()) used += m.sizeBytes;
    return used;
  }

  async #makeRoom(name: string, needed: number): Promise<void> {
    const budget = this.options.memoryBudgetBytes;
    if (needed > budget) {
      throw new A3sError(
        "insufficient_memory",
        `model '${name}' needs ${mib(needed)} but the memory budget is ${mib(budget)}`,
        { status: 507, field: "model" },
      );
    }
    // Unload idle models, least recently loaded first, until the new one fits.
    const idle = [...this.#loaded.values()]
      .filter((m) => !(this.#active.get(m.name) ?? 0))
      .sort((a, b) => a.loadedAt.getTime() - b.loadedAt.getTime());
    while (this.#usedBytes() + needed > budget && idle.length) {
      await this.unload(idle.shift()!.name);
    }
    if (this.#usedBytes() + needed > budget) {
      throw new A3sError(
        "insufficient_memory",
        `model '${name}' needs ${mib(needed)} but only ${mib(budget - this.#usedBytes())} of the ${
          mib(budget)
        } memory budget is free while ${[...this.#loaded.keys()].join(", ")} are busy`,
        { status: 507, field: "model" },
      );
    }
  }

  async #load(name: string): Promise<LoadedModel> {
    const started = performance.now();
    const stored = await this.store.get(name);
    const manifest = await readModelDir(stored.dir);
    await this.#makeRoom(stored.name, manifest.weightBytes);
    const tokenizer = await loadTokenizer(manifest.dir);
    const model: LoadedModel = {
      name: stored.name,
      digest: stored.digest,
      manifest,
      tokenizer,
      pooling: await poolingOf(manifest),
      sizeBytes: manifest.weightBytes,
      loadedAt: new Date(),
      expiresAt: new Date(Date.now() + this.options.keepAliveMs),
      loadNs: 0,
    };
    if (manifest.kind === "encoder") {
      model.encoder = await EncoderModel.load(manifest);
    } else {
      const lm = await CausalLM.load(manifest);
      const stopTokens = new Set(manifest.eosTokenIds);
      // A special token (end of turn, start of a new turn, padding) never belongs in a reply.
      for (const id of tokenizer.specialTokens.values()) stopTokens.add(id);
      // Batching pads float32 caches; other cache types decode one sequence per call.
      const batcher = this.options.batchSize > 1 && lm.kvType === "float32" && lm.pastNames.length
        ? new StepBatcher(lm, this.options.batchSize)
        : undefined;
      model.language = { lm, tokenizer, manifest, stopTokens, batcher };
    }
    model.loadNs = Math.round((performance.now() - started) * 1e6);
    this.#loaded.set(model.name, model);
    loadedGauge.set(this.#loaded.size);
    return model;
  }

  /** Loads `name` if needed and returns it with the time the load took (0 when warm). */
  async load(name: string): Promise<{ model: LoadedModel; loadNs: number }> {
    const warm = this.#loaded.get(normalizeName(name));
    if (warm) return { model: warm, loadNs: 0 };
    const stored = await this.store.get(name);
    let loading = this.#loading.get(stored.name);
    if (!loading) {
      loading = this.#load(stored.name).finally(() => this.#loading.delete(stored.name));
      this.#loading.set(stored.name, loading);
    }
    const model = await loading;
    return { model, loadNs: model.loadNs };
  }

  /**
   * Waits for a slot on model `name`, loads it if needed, and returns it with a `release` that
   * frees the slot and keeps the model for `keepAlive` (Ollama's `keep_alive`).
   */
  async acquire(
    name: string,
    keepAlive: string | number | undefined,
    signal?: AbortSignal,
  ): Promise<{ model: LoadedModel; loadNs: number; release: () => void }> {
    const keepMs = parseKeepAlive(keepAlive, this.options.keepAliveMs);
    // A loaded model needs no trip to the store.
    const asked = normalizeName(name);
    const normalized = this.#loaded.has(asked) ? asked : (await this.store.get(name)).name;
    let slots = this.#slots.get(normalized);
    if (!slots) {
      slots = new Slots(this.options.concurrency);
      this.#slots.set(normalized, slots);
    }
    queuedGauge.set({ model: normalized }, slots.waiting + 1);
    await slots.take(signal);
    queuedGauge.set({ model: normalized }, slots.waiting);
    this.#active.set(normalized, (this.#active.get(normalized) ?? 0) + 1);
    this.#timers.get(normalized)?.();
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      slots.give();
      const active = (this.#active.get(normalized) ?? 1) - 1;
      this.#active.set(normalized, active);
      if (active === 0) this.#scheduleUnload(normalized, keepMs);
    };
    try {
      const { model, loadNs } = await this.load(normalized);
      return { model, loadNs, release };
    } catch (error) {
      release();
      throw error;
    }
  }

  /** Runs `work` on model `name` under {@linkcode ModelRegistry.acquire}. */
  async use<T>(
    name: string,
    keepAlive: string | number | undefined,
    work: (model: LoadedModel, loadNs: number) => Promise<T> | T,
    signal?: AbortSignal,
  ): Promise<T> {
    const { model, loadNs, release } = await this.acquire(name, keepAlive, signal);
    try {
      return await work(model, loadNs);
    } finally {
      release();
    }
  }

  async keep(name: string, keepAlive: string | number): Promise<void> {
    await this.use(name, keepAlive, () => {});
  }

  #scheduleUnload(name: string, keepMs: number): void {
    const model = this.#loaded.get(name);
    if (!model) return;
    this.#timers.get(name)?.();
    this.#timers.delete(name);
    if (keepMs === Infinity) {
      model.expiresAt = new Date(LATEST_DATE_MS);
      return;
    }
    model.expiresAt = new Date(Date.now() + keepMs);
    if (keepMs <= 0) {
      void this.unload(name);
      return;
    }
    this.#timers.set(name, setLongTimeout(() => void this.unload(name), keepMs));
  }

  /** Unloads `name` now if nothing is running on it. */
  async unload(name: string): Promise<boolean> {
    const model = this.#loaded.get(name);
    if (!model || (this.#active.get(name) ?? 0) > 0) return false;
    this.#loaded.delete(name);
    this.#timers.get(name)?.();
    this.#timers.delete(name);
    loadedGauge.set(this.#loaded.size);
    await model.language?.lm.release();
    await model.encoder?.release();
    model.tokenizer.free();
    return true;
  }

  /** Unloads everything. */
  async close(): Promise<void> {
    for (const name of [...this.#loaded.keys()]) {
      this.#active.set(name, 0);
      await this.unload(name);
    }
  }
}

function mib(bytes: number): string {
  return bytes === Infinity ? "unlimited" : `${(bytes / BYTES_PER_MIB).toFixed(1)} MiB`;
}
