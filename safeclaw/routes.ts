/**
 * HTTP API: scan, classify, sanitize, injection, taint checks, the audit log and its
 * verification, session levels, and the OpenAI-compatible proxy, all under `/safeclaw/v1`.
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import {
  type A3sModule,
  clientAddressOf,
  createRouter,
  defineModule,
  loadSecurityConfig,
  NotFoundError,
  SELF_AUTHENTICATED,
} from "@a3s/common";
import { type Classifier, createClassifier } from "./classify.ts";
import { type SafeclawConfig, SafeclawConfigSchema } from "./config.ts";
import { Guard } from "./guard.ts";
import { auditKey } from "./audit/key.ts";
import { AuditLog } from "./audit/log.ts";
import { formatAnchor, parseAnchor } from "./audit/anchor.ts";
import { DeliveryLog } from "./channels/deliveries.ts";
import { mergePolicies, parsePolicy, type Policy, readPolicyFile } from "./policy.ts";
import { judgeInjection } from "./injection/judge.ts";
import type { EventBus } from "@a3s/event";
import type { DurableLane } from "@a3s/lane";
import { publishSafeclawEvents } from "./bus_events.ts";
import { sanitize } from "./sanitize.ts";
import { apiSession, SESSION_KEY_MAX } from "./api_session.ts";
import { atLeast } from "./privacy/levels.ts";
import { detectTee } from "./tee.ts";
import { handleChatCompletions, type ProxyUpstreams } from "./proxy.ts";
import { ChannelHub, chatResponder, type Responder } from "./channels/hub.ts";
import type { ChannelAdapter } from "./channels/types.ts";
import { chatStreamResponder, type StreamingResponder, webchatSocket } from "./channels/webchat.ts";
import { WEBCHAT_HTML } from "./channels/webchat_page.ts";
import { telegramChannel } from "./channels/telegram.ts";
import { slackChannel } from "./channels/slack.ts";
import { discordChannel } from "./channels/discord.ts";
import { feishuChannel } from "./channels/feishu.ts";
import { dingtalkChannel } from "./channels/dingtalk.ts";
import { wecomChannel } from "./channels/wecom.ts";
import {
  AuditQuery,
  AuditRecordSchema,
  ClassifyRequest,
  ClassifyResponse,
  InjectionRequest,
  InjectionVerdictSchema,
  SanitizeRequest,
  SanitizeResponse,
  ScanRequest,
  ScanResponse,
  SessionResponse,
  TaintCheckRequest,
  TaintCheckResponse,
  TaintTrackRequest,
} from "./schemas.ts";
import { AnchorResponse, AuditVerifyQuery, VerifyResponse } from "./schemas.ts";

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});
const body = <T extends z.ZodType>(schema: T) => ({
  body: { content: { "application/json": { schema } }, required: true },
});

const scanRoute = createRoute({
  method: "post",
  path: "/safeclaw/v1/scan",
  summary: "Find PII and secrets in text",
  request: body(ScanRequest),
  responses: { 200: json(ScanResponse, "Spans found, offsets in UTF-16 code units") },
});
const classifyRoute = createRoute({
  method: "post",
  path: "/safeclaw/v1/classify",
  summary: "Privacy level, findings and the policy's action for a text",
  request: body(ClassifyRequest),
  responses: { 200: json(ClassifyResponse, "The decision") },
});
const sanitizeRoute = createRoute({
  method: "post",
  path: "/safeclaw/v1/sanitize",
  summary: "Redact PII and secrets: placeholders, masks, hashes or partial masks",
  request: body(SanitizeRequest),
  responses: { 200: json(SanitizeResponse, "The sanitized text") },
});
const injectionRoute = createRoute({
  method: "post",
  path: "/safeclaw/v1/injection",
  summary: "Prompt-injection verdict with score, categories and explanation",
  request: body(InjectionRequest),
  responses: { 200: json(InjectionVerdictSchema, "The verdict") },
});
const taintCheckRoute = createRoute({
  method: "post",
  path: "/safeclaw/v1/taint/check",
  summary: "Check a tool call before it runs: tainted arguments, exfiltration patterns",
  request: body(TaintCheckRequest),
  responses: { 200: json(TaintCheckResponse, "allow, block or approve") },
});
const taintTrackRoute = createRoute({
  method: "post",
  path: "/safeclaw/v1/taint/track",
  summary: "Track a value in a session so that its reappearance is caught",
  request: body(TaintTrackRequest),
  responses: { 200: json(z.object({ id: z.string() }), "The taint id") },
});
const auditListRoute = createRoute({
  method: "get",
  path: "/safeclaw/v1/audit",
  summary: "Audit records, filtered by severity, session, kind and time",
  request: { query: AuditQuery },
  responses: {
    200: json(z.object({ records: z.array(AuditRecordSchema) }), "Records, oldest first"),
  },
});
const auditVerifyRoute = createRoute({
  method: "get",
  path: "/safeclaw/v1/audit/verify",
  summary:
    "Verify the audit hash chain (and an anchor kept outside it); names the first bad record",
  request: { query: AuditVerifyQuery },
  responses: { 200: json(VerifyResponse, "The verification result") },
});
const auditAnchorRoute = createRoute({
  method: "get",
  path: "/safeclaw/v1/audit/anchor",
  summary: "Sign the newest record of a log that verifies: an anchor to keep outside the store",
  responses: {
    200: json(AnchorResponse, "The anchor"),
    409: {
      content: {
        "application/problem+json": {
          schema: z.object({ title: z.string(), detail: z.string() }).passthrough(),
        },
      },
      description: "The log does not verify: no anchor is issued",
    },
  },
});
const sessionRoute = createRoute({
  method: "get",
  path: "/safeclaw/v1/sessions/{session}",
  summary: "A session's privacy level (it only goes up)",
  request: {
    params: z.object({
      session: z.string().min(1).max(SESSION_KEY_MAX).openapi({
        description:
          "a stored session key: `api:<caller>:<name>` for a session named through the API, `user_id:channel_id:chat_id` for a channel's",
        example: "api:anonymous:agent-7",
      }),
    }),
  },
  responses: { 200: json(SessionResponse, "The level") },
});

/**
 * Builds the safeclaw sub-app. With a guard, every route is served; with only a classifier
 * (the scanner's CLI tests), `scan` alone.
 *
 * @example
 * ```ts
 * import { createSafeclawRoutes } from "./routes.ts";
 * const app = createSafeclawRoutes();
 * ```
 */
export function createSafeclawRoutes(
  classifier: Classifier = createClassifier(),
  guard?: Guard,
  upstreams?: ProxyUpstreams,
  hub?: ChannelHub,
  streamResponder?: StreamingResponder,
  webchatOrigins: readonly string[] = [],
): OpenAPIHono {
  const app = createRouter();
  app.openapi(scanRoute, (c) => {
    const req = c.req.valid("json");
    if (req.texts !== undefined) {
      const results = classifier.classifyMany(req.texts).map((r) => ({ spans: r.findings }));
      return c.json({ results }, 200);
    }
    return c.json({ spans: classifier.classify(req.text ?? "").findings }, 200);
  });
  if (!guard) return app;
  app.openapi(classifyRoute, async (c) => {
    const req = c.req.valid("json");
    if (req.session) {
      const d = await guard.inspectInput({
        session: apiSession(c.req.raw, req.session),
        text: req.text,
        source: req.source,
      });
      return c.json({
        level: d.level,
        sessionLevel: d.sessionLevel,
        action: d.action,
        localOnly: d.localOnly,
        types: [...new Set(d.findings.map((f) => f.type))],
        findings: d.findings,
        injection: d.injection,
        reasons: d.reasons,
      }, 200);
    }
    const findings = guard.classifier.classify(req.text).findings;
    const level = guard.levelOf(findings);
    const { action, teeRefusal } = guard.actionAt(level);
    return c.json({
      level,
      action,
      localOnly: action === "local_only" || atLeast(level, guard.policy.localOnlyAt),
      types: [...new Set(findings.map((f) => f.type))],
      findings,
      reasons: teeRefusal ? [teeRefusal] : action === "allow" ? [] : [`${level} data: ${action}`],
    }, 200);
  });
  app.openapi(sanitizeRoute, async (c) => {
    const req = c.req.valid("json");
    if (req.session) {
      const session = apiSession(c.req.raw, req.session);
      if (req.mode === "placeholder") {
        const vault = await guard.vault(session);
        const findings = guard.classifier.classify(req.text).findings;
        const text = sanitize(req.text, findings, req.mode, vault);
        if (findings.length) await guard.recordApiRedaction(session, req.mode, typesOf(findings));
        return c.json({ text, findings }, 200);
      }
      // Nothing of the vault comes back here: every anonymous caller on loopback shares one name.
      const out = await guard.sanitizeOutput(session, req.text, req.mode, {
        ownValues: false,
      });
      return c.json({ text: out.text, findings: out.findings }, 200);
    }
    const findings = guard.classifier.classify(req.text).findings;
    if (findings.length) await guard.recordApiRedaction(null, req.mode, typesOf(findings));
    return c.json({ text: sanitize(req.text, findings, req.mode), findings }, 200);
  });
  app.openapi(injectionRoute, async (c) => {
    const req = c.req.valid("json");
    const verdict = await judgeInjection(req.text, {
      source: req.source,
      threshold: guard.policy.injection.threshold,
    });
    if (verdict.injection) {
      await guard.audit.append({
        kind: "injection",
        severity: "warning",
        session: req.session ? apiSession(c.req.raw, req.session) : null,
        data: { score: verdict.score, categories: verdict.categories, source: req.source },
      });
    }
    return c.json(verdict, 200);
  });
  app.openapi(taintCheckRoute, async (c) => {
    const req = c.req.valid("json");
    const d = await guard.inspectToolCall(apiSession(c.req.raw, req.session), {
      tool: req.tool,
      args: req.args,
    });
    return c.json(d, 200);
  });
  app.openapi(taintTrackRoute, (c) => {
    const req = c.req.valid("json");
    const tracker = guard.tracker(apiSession(c.req.raw, req.session));
    return c.json({ id: tracker.track(req.value, req.kind, req.source) }, 200);
  });
  app.openapi(auditListRoute, async (c) => {
    const q = c.req.valid("query");
    return c.json({ records: await guard.audit.list(q) }, 200);
  });
  app.openapi(auditVerifyRoute, async (c) => {
    const { anchor } = c.req.valid("query");
    const options = anchor === undefined ? {} : { anchor: parseAnchor(anchor) };
    return c.json(await guard.audit.verify(options), 200);
  });
  app.openapi(auditAnchorRoute, async (c) => {
    const anchor = await guard.audit.anchor();
    return c.json({ anchor: anchor && formatAnchor(anchor), seq: anchor?.seq ?? null }, 200);
  });
  app.openapi(sessionRoute, async (c) => {
    const { session } = c.req.valid("param");
    return c.json({ session, level: await guard.sessions.get(session) }, 200);
  });
  if (upstreams) {
    app.post("/safeclaw/v1/chat/completions", (c) => handleChatCompletions(c, guard, upstreams));
  }
  if (hub) {
    const channel = (c: Context) => {
      const name = c.req.param("channel") ?? "";
      // An unknown name is the API's 404 (problem+json), not a platform's answer.
      if (!hub.channels.includes(name)) {
        throw new NotFoundError(`no channel '${name}' is configured`, "channel");
      }
      // The sender as the security layer decided it (trusted proxies honoured), never a header.
      return hub.handle(name, c.req.raw, clientAddressOf(c));
    };
    app.post("/safeclaw/v1/channels/:channel", channel);
    // WeCom checks a callback URL with a signed GET.
    app.get("/safeclaw/v1/channels/:channel", channel);
    if (streamResponder) {
      app.get("/", (c) => c.html(WEBCHAT_HTML));
      app.get(
        "/safeclaw/v1/webchat/ws",
        (c) => webchatSocket(c.req.raw, guard, hub, streamResponder, { origins: webchatOrigins }),
      );
    }
  }
  app.get("/safeclaw/v1/sessions", () => {
    throw new NotFoundError("give a session id: /safeclaw/v1/sessions/{session}", "session");
  });
  return app;
}

/** The policy the config names: the file, with the inline section over it. */
export async function policyFrom(config: SafeclawConfig): Promise<Policy> {
  const fromFile = config.policyFile ? await readPolicyFile(config.policyFile) : {};
  return parsePolicy(mergePolicies(fromFile, config.policy ?? {}));
}

/** The adapters of the platforms the config names. */
function channelAdapters(config: SafeclawConfig): ChannelAdapter[] {
  const out: ChannelAdapter[] = [];
  if (config.channels.telegram) out.push(telegramChannel(config.channels.telegram));
  if (config.channels.slack) out.push(slackChannel(config.channels.slack));
  if (config.channels.discord) out.push(discordChannel(config.channels.discord));
  if (config.channels.feishu) out.push(feishuChannel(config.channels.feishu));
  if (config.channels.dingtalk) out.push(dingtalkChannel(config.channels.dingtalk));
  if (config.channels.wecom) out.push(wecomChannel(config.channels.wecom));
  return out;
}

/**
 * Who answers channel messages. The agent module registers itself here when it starts, so
 * safeclaw hands messages to the agent without importing it (the module graph stays acyclic).
 */
export interface ChannelResponders {
  /**
   * Makes `responder` answer every channel message (webhooks and WebChat) from now on, in
   * place of the configured chat API. Returns a function that restores the previous one.
   */
  use(responder: Responder): () => void;
}

/**
 * What other modules (the agent, channels) receive as `ctx.modules.safeclaw`: the guard, and
 * the registry through which the agent becomes the channels' responder.
 */
export type SafeclawApi = Guard & { readonly channels: ChannelResponders };

/** Options of {@linkcode safeclawModule}. */
export interface SafeclawModuleOptions {
  /**
   * Publish every audit decision on the `event` module's bus as `safeclaw.audit.<kind>`
   * (default true; the module then depends on `event`).
   */
  events?: boolean;
  /**
   * Queue chat turns on the `lane` module's scheduler, so `lane stats`, `/lane/v1/*` and lane's
   * events show them (default false: the hub's own lane in memory; serve turns it on). The
   * module then depends on `lane`.
   */
  lane?: boolean;
}

/** The distinct types of `findings`, for an audit record. */
function typesOf(findings: readonly { type: string }[]): string[] {
  return [...new Set(findings.map((f) => f.type))];
}

/**
 * The module as `serve` mounts it. Unless `events: false`, it depends on the `event` module
 * and publishes its audit decisions on its bus.
 *
 * @example
 * ```ts
 * import { safeclawModule } from "@a3s/safeclaw";
 * const module = safeclawModule();
 * console.log(module.name); // "safeclaw"
 * ```
 */
export function safeclawModule(
  options: SafeclawModuleOptions = {},
): A3sModule<SafeclawConfig, SafeclawApi> {
  return defineModule<SafeclawConfig, SafeclawApi>({
    name: "safeclaw",
    configSchema: SafeclawConfigSchema,
    dependsOn: [...(options.events === false ? [] : ["event"]), ...(options.lane ? ["lane"] : [])],
    access: [
      // Analysis of text the caller sends: what local clients call, like a model API.
      { path: "/safeclaw/v1/scan", scope: "safeclaw:read", anonymousOnLoopback: true },
      { path: "/safeclaw/v1/classify", scope: "safeclaw:read", anonymousOnLoopback: true },
      { path: "/safeclaw/v1/sanitize", scope: "safeclaw:read", anonymousOnLoopback: true },
      { path: "/safeclaw/v1/injection", scope: "safeclaw:read", anonymousOnLoopback: true },
      // A model API; its upstreams come from config, never from the request.
      {
        path: "/safeclaw/v1/chat/completions",
        scope: "safeclaw:write",
        anonymousOnLoopback: true,
      },
      { path: "/safeclaw/v1/taint/*", scope: "safeclaw:write" },
      // Platforms cannot send our token: every adapter requires its platform's secret in
      // config and refuses unsigned requests, so the route is open on every bind.
      { path: "/safeclaw/v1/channels/*", scope: SELF_AUTHENTICATED },
      // The WebChat page and its socket: a local user's browser, like a model API client.
      { path: "/", methods: ["GET"], scope: "safeclaw:read", anonymousOnLoopback: true },
      {
        path: "/safeclaw/v1/webchat/*",
        methods: ["GET"],
        scope: "safeclaw:write",
        anonymousOnLoopback: true,
      },
      // The audit trail and session levels are not for anonymous callers.
      { path: "/safeclaw/v1/audit", methods: ["GET"], scope: "safeclaw:read" },
      { path: "/safeclaw/v1/audit/*", methods: ["GET"], scope: "safeclaw:read" },
      { path: "/safeclaw/v1/sessions/*", methods: ["GET"], scope: "safeclaw:read" },
    ],
    async start(ctx) {
      const policy = await policyFrom(ctx.config);
      const guard = await Guard.open({
        store: ctx.store,
        policy,
        hmacKey: await auditKey(
          ctx.config.auditKey,
          ctx.server.home,
          () => AuditLog.hasHistory(ctx.store),
        ),
        tee: detectTee(),
        vaultTtlMs: ctx.config.vaultTtlHours * 3_600_000,
        auditAnchorFile: ctx.config.auditAnchorFile,
        onAuditAnchorError: (error, unanchoredFrom) =>
          ctx.logger.warn("audit anchor file not written", {
            file: ctx.config.auditAnchorFile,
            unanchoredFrom,
            error: error.message,
          }),
      });
      const bus = ctx.modules.event as EventBus | undefined;
      const stopEvents = bus ? publishSafeclawEvents(guard.audit, bus, ctx.logger) : undefined;
      const port = ctx.server.port;
      // This server's own OpenAI API (power): over loopback when bound to every address.
      const host = ["0.0.0.0", "::", ""].includes(ctx.server.host)
        ? "127.0.0.1"
        : ctx.server.host.includes(":")
        ? `[${ctx.server.host}]`
        : ctx.server.host;
      const local = ctx.config.proxy.localUpstream ??
        (port ? `http://${host}:${port}/v1` : undefined);
      const upstreams = local
        ? {
          local,
          remote: ctx.config.proxy.remoteUpstream,
          remoteApiKey: ctx.config.proxy.remoteApiKey,
          binaryPayloads: ctx.config.proxy.binaryPayloads,
        }
        : undefined;
      const adapters = channelAdapters(ctx.config);
      const responderBase = ctx.config.responder.baseUrl ?? local;
      // The agent registers itself after safeclaw has started; until then (or without an agent)
      // the configured chat API answers.
      let registered: Responder | undefined;
      const channels: ChannelResponders = {
        use(responder) {
          const previous = registered;
          registered = responder;
          return () => void (registered = previous);
        },
      };
      const fallback = responderBase
        ? chatResponder(responderBase, ctx.config.responder.model)
        : undefined;
      const fallbackStream = responderBase
        ? chatStreamResponder(responderBase, ctx.config.responder.model)
        : undefined;
      const respond: Responder = async (input) => {
        const responder = registered ?? fallback;
        if (!responder) {
          throw new Error(
            "no responder: serve the code module or set safeclaw.responder.baseUrl",
          );
        }
        return await responder(input);
      };
      // WebChat streams; an agent answers whole (its reply is sanitized as one text anyway).
      const respondStream: StreamingResponder = async function* (input) {
        if (registered) yield await registered(input);
        else if (fallbackStream) yield* fallbackStream(input);
        else yield await respond(input);
      };
      // The hub and WebChat always exist (WebChat needs no configuration): the agent may
      // register after start even when no chat API is known (on port 0 serve does not know its
      // own port yet).
      const deliveries = await DeliveryLog.open(ctx.store);
      // A lane that only submits (`lane.process: false`) would never run a turn only this
      // process can run: the hub's own lane then answers.
      const served = ctx.modules.lane as DurableLane | undefined;
      if (served && !served.processing) {
        ctx.logger.warn("chat turns queue in memory: lane.process is false in this process");
      }
      const hub = new ChannelHub(guard, adapters, respond, {
        lane: served?.processing ? served : undefined,
        bodyLimit: ctx.server.bodyLimit,
        onError: (error, message) =>
          ctx.logger.error("channel reply failed", {
            channel: message.channel,
            error: String(error),
          }),
        onAuditError: (error) =>
          ctx.logger.error("channel audit record not written", { error: String(error) }),
        deliveries,
      });
      let pruner: ReturnType<typeof setInterval> | undefined;
      if (ctx.config.auditRetentionDays > 0) {
        const prune = () =>
          guard.audit.prune(Date.now() - ctx.config.auditRetentionDays * 86_400_000).catch((e) =>
            ctx.logger.error("audit pruning failed", { error: String(e) })
          );
        await prune();
        pruner = setInterval(prune, 3_600_000);
      }
      const purgeVaults = () =>
        Promise.all([guard.vaults.purgeExpired(), deliveries.prune()]).catch((e) =>
          ctx.logger.error("vault purge failed", { error: String(e) })
        );
      await purgeVaults();
      const vaultPurger = setInterval(purgeVaults, 3_600_000);
      return {
        routes: createSafeclawRoutes(
          guard.classifier,
          guard,
          upstreams,
          hub,
          respondStream,
          // The origins configured for the API may also open the WebChat socket; other local
          // pages may not.
          loadSecurityConfig(ctx.server as unknown as Record<string, unknown>).origins,
        ),
        api: Object.assign(guard, { channels }),
        // Messages acknowledged and queued are answered before the agent that answers them
        // closes: closed first, it left them to a chat API that was gone (and sent one empty).
        drain: () => hub.settle(),
        async close() {
          if (pruner !== undefined) clearInterval(pruner);
          clearInterval(vaultPurger);
          await hub.close();
          await stopEvents?.();
          await guard.close();
        },
      };
    },
  });
}
