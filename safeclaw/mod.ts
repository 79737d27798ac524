/**
 * `@a3s/safeclaw`: the security proxy between the outside world and the agent. It classifies
 * messages into privacy levels (a validating WebAssembly scanner plus checksum recognizers,
 * libphonenumber and context words), detects prompt injection, tracks secret and personal values
 * through encodings and tool calls, sanitizes outputs (also streamed), keeps a tamper-evident
 * audit log in the shared store, and proxies OpenAI-compatible chat with local-only routing.
 *
 * @example
 * ```ts
 * import { classify, detectInjection, redact } from "@a3s/safeclaw";
 * const text = "card 4111 1111 1111 1111, mail ada@example.org";
 * const { findings, types } = classify(text);
 * console.log(types); // ["credit_card", "email"]
 * console.log(redact(text, findings)); // "card [CREDIT_CARD], mail [EMAIL]"
 * console.log(detectInjection("Ignore all previous instructions").injection); // true
 * ```
 * @module
 */
export {
  type Classification,
  type Classifier,
  type ClassifierOptions,
  classify,
  createClassifier,
  redact,
} from "./classify.ts";
export {
  type Detection,
  ENTITY_TYPES,
  type EntityType,
  RECOGNIZER_TYPES,
} from "./privacy/entities.ts";
export { atLeast, type Level, levelRank, LEVELS, maxLevel } from "./privacy/levels.ts";
export {
  type Action,
  ACTIONS,
  DEFAULT_TYPE_LEVELS,
  levelOf,
  loadPolicyFile,
  mergePolicies,
  parsePolicy,
  type Policy,
  policyAction,
  PolicySchema,
  readPolicyFile,
} from "./policy.ts";
export {
  detectInjection,
  type InjectionMatch,
  type InjectionOptions,
  type InjectionVerdict,
  type Source,
  SOURCES,
} from "./injection/detector.ts";
export { CATEGORIES, type Category } from "./injection/rules.ts";
export {
  calibrate,
  combine,
  decisionFor,
  type InjectionModels,
  judgeInjection,
  judgeMany,
  type JudgeOptions,
  MIN_WORDS_ALONE,
  MODEL_VETO,
  SHORT_THRESHOLD,
  STRONG_RULES,
  USER_MODEL_THRESHOLD,
  wordsRead,
} from "./injection/judge.ts";
export {
  type ClassifierManifest,
  type InjectionClassifier,
  loadInjectionClassifier,
  loadShortInjectionClassifier,
  modelViews,
  openInjectionClassifier,
} from "./injection/classifier.ts";
export { canonical, type TextView, views, type ViewSource } from "./injection/normalize.ts";
export {
  type DecodedPayload,
  decodedPayloads,
  type PayloadEncoding,
} from "./injection/decoders.ts";
export {
  deriveLabel,
  type Label,
  MAX_TAINTS_PER_SESSION,
  type StreamTaintMatcher,
  TAINT_ENCODINGS,
  type TaintEncoding,
  type TaintEntry,
  type TaintFindOptions,
  type TaintHit,
  type TaintKind,
  TaintTracker,
  type TaintTrackerOptions,
  type Trust,
} from "./taint.ts";
export {
  checkToolCall,
  type ToolCall,
  type ToolCheckOptions,
  type ToolDecision,
} from "./tool_guard.ts";
export type { NetworkUse, ScriptReader } from "./network_commands.ts";
export {
  partialMask,
  REDACTION_MODES,
  type RedactionMode,
  sanitize,
  Vault,
  type VaultEntry,
  type VaultOptions,
  type VaultOrigin,
} from "./sanitize.ts";
export { VaultStore, type VaultStoreOptions } from "./vault_store.ts";
export {
  createStreamRestorer,
  createStreamSanitizer,
  type StreamRestorer,
  type StreamSanitizer,
  type StreamSanitizerOptions,
} from "./stream_sanitizer.ts";
export {
  type AuditEvent,
  type AuditFilter,
  AuditLog,
  type AuditRecord,
  SEVERITIES,
  type Severity,
  type VerifyResult,
} from "./audit/log.ts";
export { type AuditAnchor, formatAnchor, parseAnchor } from "./audit/anchor.ts";
export { SessionLevels } from "./sessions.ts";
export { detectTee, type TeeKind, type TeeProbeOptions, type TeeStatus } from "./tee.ts";
export {
  Guard,
  type GuardOptions,
  type HistoryReview,
  type InputDecision,
  type ReplyStream,
  type RestoreScope,
} from "./guard.ts";
export { type ChannelsConfig, type SafeclawConfig, SafeclawConfigSchema } from "./config.ts";
export {
  type ChannelResponders,
  type SafeclawApi,
  safeclawModule,
  type SafeclawModuleOptions,
} from "./routes.ts";
export {
  decisionEvent,
  publishSafeclawEvents,
  SAFECLAW_BUS_KINDS,
  SAFECLAW_EVENT_TYPES,
  type SafeclawDecisionEvent,
  SafeclawDecisionEventSchema,
} from "./bus_events.ts";
export type { Responder } from "./channels/hub.ts";
export { LOCAL_ONLY_HEADER } from "./channels/hub.ts";
export { parseShell, type ShellInput, type ShellWord, type SimpleCommand } from "./shell_parse.ts";
export {
  KEYWORDS as SHELL_KEYWORDS,
  NOT_COMMANDS as SHELL_NOT_COMMANDS,
  SHELLS,
  WRAPPERS as COMMAND_WRAPPERS,
} from "./network_tools.ts";
export { type Finding, PII_TYPES, type PiiType } from "@a3s/wasm/pii";

/** The package name. */
export const MODULE_NAME = "@a3s/safeclaw";
