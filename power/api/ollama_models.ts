/** Ollama's model management under `/api`: list, show, loaded, pull, copy, delete, version. */
import { createRoute, type OpenAPIHono, type RouteHandler, z } from "@hono/zod-openapi";
import { createRouter, ValidationError } from "@a3s/common";
import type { Power } from "../service.ts";
import type { ModelManifest } from "../engine/model_dir.ts";
import { modelNameFromSource, normalizeName } from "../models/names.ts";
import { LATEST_DATE_MS } from "../models/registry.ts";
import { CopyBody, ModelRef, type ModelRefBody, PullBody } from "./ollama_schemas.ts";
import { ndjson, requestAbort } from "./_stream.ts";
import { ollamaPost } from "./_ollama_route.ts";

/** The version `/api/version` reports: the Ollama API this one follows. */
const OLLAMA_COMPAT_VERSION = "0.6.4";
/** What Ollama's `/api/ps` shows for a model kept loaded until unloaded (Go's zero time). */
const NEVER_EXPIRES = "0001-01-01T00:00:00Z";
const BYTES_PER_MILLION = 1e6;

function get<P extends string>(path: P, summary: string) {
  return createRoute({
    method: "get",
    path,
    summary,
    tags: ["ollama"],
    responses: { 200: { description: "JSON" } },
  });
}

const tagsRoute = get("/api/tags", "List models in the store");
const psRoute = get("/api/ps", "List loaded models");
const versionRoute = get("/api/version", "The Ollama API version served");
const showRoute = ollamaPost(
  "/api/show",
  ModelRef.extend({ verbose: z.boolean().optional() }),
  "Show a model",
);
const pullRoute = ollamaPost("/api/pull", PullBody, "Pull a model from a path or URL", true);
const copyRoute = ollamaPost("/api/copy", CopyBody, "Copy a model");
const deleteRoute = createRoute({
  method: "delete",
  path: "/api/delete",
  summary: "Delete a model",
  tags: ["ollama"],
  request: { body: { content: { "application/json": { schema: ModelRef } }, required: true } },
  responses: { 200: { description: "Deleted" } },
});

function modelOf(body: ModelRefBody): string {
  const name = body.model ?? body.name;
  if (!name) throw new ValidationError("model: required", "model");
  return name;
}

/** The weights' precision, read from the ONNX file's name as exporters write it. */
function quantizationOf(file: string): { level: string; bytesPerWeight: number } {
  if (/q4f16/.test(file)) return { level: "Q4F16", bytesPerWeight: 1 };
  if (/q4|bnb4/.test(file)) return { level: "Q4", bytesPerWeight: 1 };
  if (/int8|uint8|quantized/.test(file)) return { level: "Q8", bytesPerWeight: 1 };
  if (/fp16/.test(file)) return { level: "F16", bytesPerWeight: 2 };
  return { level: "F32", bytesPerWeight: 4 };
}

function detailsOf(manifest: ModelManifest) {
  const { level, bytesPerWeight } = quantizationOf(manifest.onnxFile);
  const millions = manifest.weightBytes / bytesPerWeight / BYTES_PER_MILLION;
  return {
    parent_model: "",
    format: "onnx",
    family: manifest.modelType,
    families: [manifest.modelType],
    parameter_size: `${millions.toFixed(1)}M`,
    quantization_level: level,
  };
}

/** A model's details, or none when its manifest cannot be read (listings still list it). */
async function detailsOrEmpty(power: Power, name: string) {
  return await power.store.manifest(name).then(detailsOf, () => ({}));
}

function tags(power: Power): RouteHandler<typeof tagsRoute> {
  return async (c) => {
    const models = [];
    for (const m of await power.store.list()) {
      models.push({
        name: m.name,
        model: m.name,
        modified_at: m.modifiedAt.toISOString(),
        size: m.size,
        digest: m.digest,
        details: await detailsOrEmpty(power, m.name),
      });
    }
    return c.json({ models });
  };
}

function show(power: Power): RouteHandler<typeof showRoute> {
  return async (c) => {
    const stored = await power.store.get(modelOf(c.req.valid("json")));
    const manifest = await power.store.manifest(stored.name);
    const config = Object.entries(manifest.config).filter(([, v]) => typeof v !== "object");
    return c.json({
      // The model's name, not its directory: where models live on the host is not the caller's.
      modelfile: `FROM ${stored.name}\n`,
      parameters: Object.entries(manifest.generation)
        .filter(([, v]) => typeof v === "number" || typeof v === "string")
        .map(([k, v]) => `${k} ${v}`)
        .join("\n"),
      template: manifest.chatTemplate ?? "",
      details: detailsOf(manifest),
      model_info: {
        "general.architecture": manifest.modelType,
        "general.file": manifest.onnxFile,
        "general.context_length": manifest.contextLength,
        ...Object.fromEntries(config.map(([k, v]) => [`${manifest.modelType}.${k}`, v])),
      },
      capabilities: manifest.kind === "encoder"
        ? ["embedding"]
        : ["completion", "tools", "embedding"],
      modified_at: stored.modifiedAt.toISOString(),
    });
  };
}

function ps(power: Power): RouteHandler<typeof psRoute> {
  return async (c) => {
    const models = [];
    for (const m of power.registry.loaded()) {
      models.push({
        name: m.name,
        model: m.name,
        size: m.sizeBytes,
        digest: m.digest,
        details: await detailsOrEmpty(power, m.name),
        expires_at: m.expiresAt.getTime() >= LATEST_DATE_MS
          ? NEVER_EXPIRES
          : m.expiresAt.toISOString(),
        size_vram: 0,
      });
    }
    return c.json({ models });
  };
}

/** A name Ollama's clients send as `model` may be the source itself: a path or URL. */
function looksLikeSource(name: string): boolean {
  return /^https?:\/\//i.test(name) || name.startsWith("/") || name.startsWith(".");
}

function pull(power: Power): RouteHandler<typeof pullRoute> {
  return async (c) => {
    const body = c.req.valid("json");
    const given = modelOf(body);
    const field = body.source === undefined ? "model" : "source";
    const implied = body.source === undefined && looksLikeSource(given);
    const source = body.source ?? given;
    const name = implied ? modelNameFromSource(given) : normalizeName(given);
    const controller = requestAbort(c.req.raw);
    if (!implied && body.source === undefined) {
      // Nothing to copy from: a known model is already "pulled", as Ollama reports.
      await power.store.get(name);
      if (!body.stream) return c.json({ status: "success" });
      return ndjson((write) => {
        write({ status: "pulling manifest" });
        write({ status: "success" });
        return Promise.resolve();
      }, controller);
    }
    const options = { policy: power.policy, signal: controller.signal, field };
    if (!body.stream) {
      await power.store.pull(source, name, options);
      return c.json({ status: "success" });
    }
    return ndjson(async (write) => {
      await power.store.pull(source, name, { ...options, onProgress: write });
    }, controller);
  };
}

function remove(power: Power): RouteHandler<typeof deleteRoute> {
  return async (c) => {
    const name = modelOf(c.req.valid("json"));
    // Refuse first: a model that may not be deleted must not be unloaded either.
    const model = await power.store.removable(name);
    await power.registry.unload(model.name);
    await power.store.remove(model.name);
    return c.body(null, 200);
  };
}

function copy(power: Power): RouteHandler<typeof copyRoute> {
  return async (c) => {
    const body = c.req.valid("json");
    await power.store.copy(body.source, body.destination);
    return c.body(null, 200);
  };
}

/** Mounts the model-management routes for `power` on a new router. */
export function modelRoutes(power: Power): OpenAPIHono {
  const app = createRouter();
  app.openapi(tagsRoute, tags(power));
  app.openapi(showRoute, show(power));
  app.openapi(psRoute, ps(power));
  app.openapi(pullRoute, pull(power));
  app.openapi(deleteRoute, remove(power));
  app.openapi(copyRoute, copy(power));
  app.openapi(versionRoute, (c) => c.json({ version: OLLAMA_COMPAT_VERSION }));
  return app;
}
