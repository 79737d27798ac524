/** The zod schemas of safeclaw's HTTP API: validation, types and OpenAPI from one place. */
import { z } from "@hono/zod-openapi";
import { SESSION_NAME_MAX } from "./api_session.ts";
import { ENTITY_TYPES } from "./privacy/entities.ts";
import { LEVELS } from "./privacy/levels.ts";
import { ACTIONS } from "./policy.ts";
import { SOURCES } from "./injection/detector.ts";
import { CATEGORIES } from "./injection/rules.ts";
import { REDACTION_MODES } from "./sanitize.ts";
import { MAX_REQUEST_DEPTH, pathDeeperThan } from "./request_schema.ts";
import { SEVERITIES } from "./audit/log.ts";

export const Span = z.object({
  type: z.enum(ENTITY_TYPES),
  start: z.number().int().openapi({ description: "UTF-16 code-unit offset" }),
  end: z.number().int(),
  confidence: z.number(),
}).openapi("SafeclawSpan");

export const ScanRequest = z.object({
  text: z.string().optional().openapi({ description: "one text to scan" }),
  texts: z.array(z.string()).max(10_000).optional().openapi({ description: "a batch of texts" }),
}).refine((body) => (body.text === undefined) !== (body.texts === undefined), {
  message: "give exactly one of 'text' or 'texts'",
  path: ["text"],
}).openapi("SafeclawScanRequest");

export const ScanResponse = z.object({
  spans: z.array(Span).optional(),
  results: z.array(z.object({ spans: z.array(Span) })).optional(),
}).openapi("SafeclawScanResponse");

// A control character or an unpaired surrogate would be changed on its way into the store
// (SQLite cuts a text at NUL), while the audit record's hash covers the name as sent.
const SessionId = z.string().min(1).max(SESSION_NAME_MAX).refine(
  // deno-lint-ignore no-control-regex -- matching control characters is the point
  (name) => name.isWellFormed() && !/[\u0000-\u001f\u007f]/.test(name),
  "no control characters or unpaired surrogates",
).openapi({
  description:
    "the caller's name for its session, stored as `api:<caller>:<name>` (the caller is `token:<id>` or `anonymous`): a caller reaches only the sessions it named, never a channel's or another token's",
  example: "agent-7",
});

export const ClassifyRequest = z.object({
  text: z.string().max(1_000_000),
  session: SessionId.optional().openapi({
    description: "when given, the session's level ratchets up and the decision is audited",
  }),
  source: z.enum(SOURCES).default("user"),
}).openapi("SafeclawClassifyRequest");

export const InjectionVerdictSchema = z.object({
  injection: z.boolean(),
  score: z.number(),
  categories: z.array(z.enum(CATEGORIES)),
  matches: z.array(z.object({
    rule: z.string(),
    category: z.enum(CATEGORIES),
    view: z.string(),
    excerpt: z.string(),
  })),
  explanation: z.string(),
}).openapi("SafeclawInjectionVerdict");

export const ClassifyResponse = z.object({
  level: z.enum(LEVELS),
  sessionLevel: z.enum(LEVELS).optional(),
  action: z.enum(ACTIONS),
  localOnly: z.boolean(),
  types: z.array(z.enum(ENTITY_TYPES)),
  findings: z.array(Span),
  injection: InjectionVerdictSchema.optional(),
  reasons: z.array(z.string()),
}).openapi("SafeclawClassifyResponse");

export const SanitizeRequest = z.object({
  text: z.string().max(1_000_000),
  mode: z.enum(REDACTION_MODES).default("placeholder"),
  session: SessionId.optional().openapi({
    description:
      "placeholders are numbered per session and kept in its vault; this route never puts any back or lets the session's own values through (only the session's replies do)",
  }),
}).openapi("SafeclawSanitizeRequest");

export const SanitizeResponse = z.object({
  text: z.string(),
  findings: z.array(Span),
}).openapi("SafeclawSanitizeResponse");

export const InjectionRequest = z.object({
  text: z.string().max(1_000_000),
  source: z.enum(SOURCES).default("user").openapi({
    description:
      "anything but `user` is untrusted content (documents, pages, emails, tool results)",
  }),
  session: SessionId.optional(),
}).openapi("SafeclawInjectionRequest");

export const TaintCheckRequest = z.object({
  session: SessionId,
  tool: z.string().min(1).max(200),
  args: z.unknown().optional().openapi({
    description: "the tool call's arguments, as the model produced them (none: a call without)",
  }),
}).superRefine((body, ctx) => {
  const path = pathDeeperThan(body.args, MAX_REQUEST_DEPTH);
  if (path) {
    ctx.addIssue({
      code: "custom",
      message: `nested deeper than ${MAX_REQUEST_DEPTH} levels`,
      path: ["args", ...path],
    });
  }
}).openapi("SafeclawTaintCheckRequest");

export const TaintCheckResponse = z.object({
  decision: z.enum(["allow", "block", "approve"]),
  reasons: z.array(z.string()),
  taints: z.array(z.object({ id: z.string(), kind: z.string(), encoding: z.string() })),
  hosts: z.array(z.string()),
}).openapi("SafeclawTaintCheckResponse");

export const TaintTrackRequest = z.object({
  session: SessionId,
  value: z.string().min(6).max(10_000),
  kind: z.enum(["Sensitive", "Secret", "PromptInjection"]).default("Secret"),
  source: z.string().min(1).max(200).default("input"),
}).openapi("SafeclawTaintTrackRequest");

/**
 * A query parameter of decimal digits. `z.coerce.number()` alone read "" as 0 (`?until=` listed
 * nothing), "0x10" as 16 and a repeated parameter as NaN with a puzzling message.
 */
const Digits = z.string().regex(/^\d{1,16}$/, "must be a whole number of decimal digits");
const EpochMs = Digits.pipe(z.coerce.number<string>().int());

export const AuditQuery = z.object({
  severity: z.enum(SEVERITIES).optional(),
  minSeverity: z.enum(SEVERITIES).optional(),
  session: z.string().optional(),
  kind: z.string().optional(),
  since: EpochMs.optional().openapi({ description: "epoch ms, inclusive" }),
  until: EpochMs.optional().openapi({ description: "epoch ms, exclusive" }),
  afterSeq: Digits.pipe(z.coerce.number<string>().int().min(0)).optional(),
  limit: Digits.pipe(z.coerce.number<string>().int().min(1).max(10_000)).default(100),
});

export const AuditRecordSchema = z.object({
  seq: z.number().int(),
  ts: z.number().int(),
  kind: z.string(),
  severity: z.enum(SEVERITIES),
  session: z.string().nullable(),
  data: z.record(z.string(), z.unknown()),
  prevHash: z.string(),
  hash: z.string(),
}).openapi("SafeclawAuditRecord");

export const VerifyResponse = z.object({
  ok: z.boolean(),
  records: z.number().int(),
  checkpointSeq: z.number().int().nullable(),
  firstBad: z.object({
    seq: z.number().int(),
    reason: z.string(),
    row: z.string().optional().openapi({
      description: "the row's seq as stored, where it is no number the chain can have",
    }),
  }).optional(),
  warning: z.string().optional().openapi({
    description:
      "what this check could not rule out: without an anchor, a cut of the newest records or a wipe",
  }),
}).openapi("SafeclawAuditVerify");

/** `GET /safeclaw/v1/audit/verify`'s query: an anchor kept outside the store to check against. */
export const AuditVerifyQuery = z.object({
  anchor: z.string().max(200).optional().openapi({
    description:
      "an anchor line `a3s-audit-anchor:v1:<seq>:<hash>:<signature>` from `GET /safeclaw/v1/audit/anchor`, kept outside the store: a log cut back below it, or wiped, fails",
  }),
});

/** `GET /safeclaw/v1/audit/anchor`'s reply. */
export const AnchorResponse = z.object({
  anchor: z.string().nullable().openapi({
    description: "the anchor line to keep outside the store; null while the log has no record",
  }),
  seq: z.number().int().nullable(),
}).openapi("SafeclawAuditAnchor");

export const SessionResponse = z.object({
  session: z.string(),
  level: z.enum(LEVELS),
}).openapi("SafeclawSession");
