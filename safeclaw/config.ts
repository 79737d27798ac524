/** The `safeclaw` config section: the policy, the audit key and retention, the proxy upstreams. */
import { z } from "zod";

/** The validated section. */
export interface SafeclawConfig {
  /** A policy file (YAML or JSON); see `Policy` for its fields. */
  policyFile?: string;
  /** An inline policy, merged over the file's. */
  policy?: Record<string, unknown>;
  /**
   * The HMAC key of the audit chain (16+ bytes). Without one, a random key is made once and
   * kept in `<home>/safeclaw/audit.key`.
   */
  auditKey?: string;
  /** Audit records older than this many days are pruned behind a signed checkpoint; 0 keeps all. */
  auditRetentionDays: number;
  /** How long a redacted original stays restorable from the encrypted vault, in hours. */
  vaultTtlHours: number;
  /**
   * The chat proxy's upstreams: the local OpenAI-compatible server (default: this server's own
   * `/v1`), and a remote one with its API key, which never gets data at or above `localOnlyAt`.
   */
  proxy: {
    localUpstream?: string;
    remoteUpstream?: string;
    remoteApiKey?: string;
    binaryPayloads: "remote" | "local";
  };
  /**
   * A file the audit log appends a signed anchor to (every 100 records, every 5 minutes and at
   * shutdown), which `audit verify` then checks, so a cut of the newest records or a wipe of the
   * store is caught. Keep it on another volume or machine, or append-only (`chattr +a`): whoever
   * can rewrite it as well as the store can roll both back.
   */
  auditAnchorFile?: string;
  /** The chat platforms to receive webhooks from. */
  channels: ChannelsConfig;
  /**
   * Who answers channel messages until the agent framework does: an OpenAI-compatible API
   * (default: the proxy's local upstream) and the model to ask.
   */
  responder: { baseUrl?: string; model: string };
}

/** The chat platforms to receive webhooks from; each is off until configured. */
export interface ChannelsConfig {
  /**
   * A Telegram bot: its token, the `secret_token` given to `setWebhook`, and its username, whose
   * mentions are taken out of the messages.
   */
  telegram?: { botToken: string; secretToken: string; botUsername?: string; apiBase?: string };
  /** A Slack app: the signing secret requests are verified with and the `xoxb-` bot token. */
  slack?: { signingSecret: string; botToken: string; apiBase?: string };
  /** A Discord application: its hex Ed25519 public key (interactions are verified with it). */
  discord?: { publicKey: string; applicationId: string; apiBase?: string };
  /** A Feishu (Lark) app: its credentials, and the token and key its callbacks are checked with. */
  feishu?: {
    appId: string;
    appSecret: string;
    verificationToken: string;
    encryptKey: string;
    apiBase?: string;
  };
  /**
   * DingTalk, one mode or both: an outgoing robot (`appSecret`, the AppSecret its callbacks are
   * signed with), and an event subscription's HTTP push (`eventSubscription`: the Token and the
   * EncodingAESKey of the app's event subscription page, and the AppKey pushes are sealed for).
   */
  dingtalk?: {
    appSecret?: string;
    eventSubscription?: { token: string; aesKey: string; appKey: string };
    apiBase?: string;
  };
  /** A WeCom (WeChat Work) app: corp, secret and agent, and the callback Token and EncodingAESKey. */
  wecom?: {
    corpId: string;
    corpSecret: string;
    agentId: number;
    token: string;
    encodingAesKey: string;
    apiBase?: string;
  };
}

/** The section's schema; every key defaulted, so `{}` is valid. */
export const SafeclawConfigSchema: z.ZodType<SafeclawConfig, unknown> = z.object({
  /** A policy file (YAML or JSON); see `policy.ts` for its fields. */
  policyFile: z.string().min(1).optional(),
  /** An inline policy, merged over the file's. */
  policy: z.record(z.string(), z.unknown()).optional(),
  /**
   * The HMAC key of the audit chain (16+ bytes). Without one, a random key is made once and
   * kept in `<home>/safeclaw/audit.key` (mode 0600).
   */
  auditKey: z.string().min(16).optional(),
  /** Audit records older than this many days are pruned behind a signed checkpoint; 0 keeps all. */
  auditRetentionDays: z.number().int().min(0).default(0),
  /** How long a redacted original stays restorable from the encrypted vault, in hours. */
  vaultTtlHours: z.number().positive().default(24),
  proxy: z.object({
    /** The local OpenAI-compatible server (default: this server's own `/v1`, that is power). */
    localUpstream: z.string().url().optional(),
    /** A remote OpenAI-compatible server; data at or above `localOnlyAt` never goes there. */
    remoteUpstream: z.string().url().optional(),
    remoteApiKey: z.string().optional(),
    /**
     * Where a turn with an attachment that cannot be read as text (an image, audio) may go:
     * `remote` (default; vision and audio keep working) or `local` (what safeclaw cannot read
     * never leaves the host).
     */
    binaryPayloads: z.enum(["remote", "local"]).default("remote"),
  }).prefault({}),
  /** A file the audit log appends signed anchors to, checked by `audit verify` (see the type). */
  auditAnchorFile: z.string().min(1).optional(),
  /** Chat platforms; each adapter verifies its platform's signatures. */
  channels: z.object({
    telegram: z.object({
      botToken: z.string().min(1),
      secretToken: z.string().min(1),
      /** The bot's username, without `@`. */
      botUsername: z.string().regex(/^@?\w{5,32}$/, "must be a Telegram username").optional(),
      apiBase: z.string().url().optional(),
    }).optional(),
    slack: z.object({
      signingSecret: z.string().min(1),
      botToken: z.string().min(1),
      apiBase: z.string().url().optional(),
    }).optional(),
    discord: z.object({
      publicKey: z.string().regex(/^[0-9a-fA-F]{64}$/, "must be 64 hex digits"),
      applicationId: z.string().min(1),
      apiBase: z.string().url().optional(),
    }).optional(),
    feishu: z.object({
      appId: z.string().min(1),
      appSecret: z.string().min(1),
      verificationToken: z.string().min(1),
      encryptKey: z.string().min(1),
      apiBase: z.string().url().optional(),
    }).optional(),
    dingtalk: z.object({
      /** The outgoing robot's AppSecret. */
      appSecret: z.string().min(1).optional(),
      /** The event subscription's HTTP push (事件订阅). */
      eventSubscription: z.object({
        /** The Token of the event subscription page. */
        token: z.string().min(1),
        /** The EncodingAESKey of that page. */
        aesKey: z.string().regex(/^[A-Za-z0-9+/]{43}$/, "must be 43 Base64 characters"),
        /** The app's AppKey (corp id or suite key where DingTalk seals pushes for those). */
        appKey: z.string().min(1),
      }).optional(),
      apiBase: z.string().url().optional(),
    }).refine((d) => d.appSecret !== undefined || d.eventSubscription !== undefined, {
      message: "set appSecret (outgoing robot), eventSubscription (event push), or both",
    }).optional(),
    wecom: z.object({
      corpId: z.string().min(1),
      corpSecret: z.string().min(1),
      agentId: z.number().int(),
      token: z.string().min(1),
      encodingAesKey: z.string().length(43),
      apiBase: z.string().url().optional(),
    }).optional(),
  }).prefault({}),
  /** Who answers channel messages until the agent framework does: an OpenAI-compatible API. */
  responder: z.object({
    /** Default: the proxy's local upstream (power). */
    baseUrl: z.string().url().optional(),
    model: z.string().min(1).default("a3s-default"),
  }).prefault({}),
});
