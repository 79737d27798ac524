/**
 * The safeclaw policy: what each entity type means (its level), what to do at each level, when
 * data must stay on local models or needs a TEE, and how injection and tainted tool calls are
 * handled. One zod schema validates a JSON or YAML policy file and fills every default.
 */
import { z } from "zod";
import { parse as parseYaml } from "yaml";
import { ValidationError } from "@a3s/common";
import { ENTITY_TYPES, type EntityType } from "./privacy/entities.ts";
import { atLeast, type Level, LEVELS } from "./privacy/levels.ts";

const LevelSchema = z.enum(LEVELS);

/** What to do with a message at a level. */
export const ACTIONS = ["allow", "redact", "local_only", "block"] as const;
/** An action. */
export type Action = (typeof ACTIONS)[number];

/** Each type's default level: secrets and government IDs highest, contact data lowest. */
export const DEFAULT_TYPE_LEVELS: Record<EntityType, Level> = {
  email: "Sensitive",
  phone: "Sensitive",
  ip_address: "Sensitive",
  mac_address: "Sensitive",
  url: "Normal",
  date_of_birth: "Sensitive",
  credit_card: "HighlySensitive",
  iban: "HighlySensitive",
  crypto_wallet: "HighlySensitive",
  us_ssn: "Critical",
  us_itin: "Critical",
  us_passport: "Critical",
  cn_id: "Critical",
  uk_nhs: "Critical",
  uk_nino: "Critical",
  es_nif: "Critical",
  es_nie: "Critical",
  it_fiscal_code: "Critical",
  in_aadhaar: "Critical",
  in_pan: "HighlySensitive",
  au_tfn: "Critical",
  au_abn: "Sensitive",
  au_medicare: "Critical",
  sg_nric: "Critical",
  pl_pesel: "Critical",
  secret: "Critical",
};

const TypeLevels = z.partialRecord(z.enum(ENTITY_TYPES), LevelSchema);

/** A policy with every default filled in. */
export interface Policy {
  /** Overrides of {@linkcode DEFAULT_TYPE_LEVELS}. */
  types: Partial<Record<EntityType, Level>>;
  /** The action at each level. */
  actions: Record<Level, Action>;
  /** Messages at or above this level go only to local models. */
  localOnlyAt: Level;
  /** Data at or above this level is refused unless the host runs in a TEE; null: never. */
  requireTeeAt: Level | null;
  /** Below this confidence a finding does not count. */
  minConfidence: number;
  /** A score at or above `threshold` is an injection, and `action` says what happens to it. */
  injection: { threshold: number; action: "block" | "flag" };
  /**
   * What happens to a tool call that carries tainted data, or runs an exfiltration pattern
   * towards a host outside `allowHosts` (exact names or `*.example.org`).
   */
  toolCalls: {
    onTainted: "block" | "approve";
    /**
     * A call that carries only the user's own Sensitive values (the address they typed, put back
     * for the tool): `onTainted` when unset. `approve` lets "subscribe me with my address" reach
     * a person instead of failing, while an injected instruction that sends the same address
     * away still needs that person. The user's Secrets always follow `onTainted`.
     */
    onOwnValues?: "block" | "approve";
    onExfiltration: "block" | "approve";
    allowHosts: string[];
  };
  /** Whether redacted originals may be restored in replies to the same session. */
  restoreOriginals: boolean;
}

/** The policy as a file gives it; every field is optional. */
export const PolicySchema: z.ZodType<Policy, unknown> = z.object({
  /** Overrides of {@linkcode DEFAULT_TYPE_LEVELS}. */
  types: TypeLevels.default({}),
  /** The action at each level. */
  actions: z.object({
    Normal: z.enum(ACTIONS).default("allow"),
    Sensitive: z.enum(ACTIONS).default("redact"),
    HighlySensitive: z.enum(ACTIONS).default("local_only"),
    Critical: z.enum(ACTIONS).default("block"),
  }).strict().prefault({}),
  /** Messages at or above this level go only to local models. */
  localOnlyAt: LevelSchema.default("HighlySensitive"),
  /** Data at or above this level is refused unless the host runs in a TEE; null: never. */
  requireTeeAt: LevelSchema.nullable().default(null),
  /** Below this confidence a finding does not count. */
  minConfidence: z.number().min(0).max(1).default(0.5),
  injection: z.object({
    /** A score at or above this is an injection. */
    threshold: z.number().min(0).max(1).default(0.5),
    /** What happens to a message judged an injection. */
    action: z.enum(["block", "flag"]).default("block"),
  }).strict().prefault({}),
  toolCalls: z.object({
    /** A tool call that carries tainted data or runs an exfiltration pattern. */
    onTainted: z.enum(["block", "approve"]).default("block"),
    /** A call that carries only the user's own Sensitive values; `onTainted` when unset. */
    onOwnValues: z.enum(["block", "approve"]).optional(),
    onExfiltration: z.enum(["block", "approve"]).default("block"),
    /** Hosts a command may reach (exact names or `*.example.org`). */
    allowHosts: z.array(z.string().min(1)).default([]),
  }).strict().prefault({}),
  /** Whether redacted originals may be restored in replies to the same session. */
  restoreOriginals: z.boolean().default(true),
}).strict();

/**
 * Validates `raw` as a policy; throws a {@linkcode ValidationError} naming the field.
 *
 * @example
 * ```ts
 * import { parsePolicy } from "@a3s/safeclaw";
 * console.log(parsePolicy({ localOnlyAt: "Sensitive" }).actions.Critical); // "block"
 * ```
 */
export function parsePolicy(raw: unknown): Policy {
  const result = PolicySchema.safeParse(raw ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue.path.map(String).join(".") || "policy";
    throw new ValidationError(`policy ${field}: ${issue.message}`, field);
  }
  return result.data;
}

/**
 * Reads a policy file: `.yaml`/`.yml` as YAML, anything else as JSON.
 *
 * @example
 * ```ts
 * import { loadPolicyFile } from "@a3s/safeclaw";
 * const policy = await loadPolicyFile("safeclaw/testdata/policy.yaml");
 * ```
 */
export async function loadPolicyFile(path: string): Promise<Policy> {
  return parsePolicy(await readPolicyFile(path));
}

/** A policy file's content as written, before validation and defaults. */
export async function readPolicyFile(path: string): Promise<unknown> {
  const text = await Deno.readTextFile(path);
  try {
    return /\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text);
  } catch (error) {
    // The parsers quote the source with a caret on lines of their own: the first line says it.
    const reason = (error as Error).message.split("\n")[0].trim();
    throw new ValidationError(`policy file ${path}: ${reason}`, "policy");
  }
}

/** The sections of a policy that are objects: merged key by key, not replaced whole. */
const SECTIONS = ["types", "actions", "injection", "toolCalls"] as const;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * `over` written over `base` (two policies as written, before validation): each section's keys
 * over the base's, so an inline `actions: { Critical: … }` keeps the file's other actions.
 *
 * @example
 * ```ts
 * import { mergePolicies, parsePolicy } from "@a3s/safeclaw";
 * const merged = mergePolicies({ actions: { Sensitive: "local_only" } }, { actions: { Critical: "local_only" } });
 * console.log(parsePolicy(merged).actions.Sensitive); // "local_only"
 * ```
 */
export function mergePolicies(base: unknown, over: unknown): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...(isPlainObject(base) ? base : {}) };
  if (!isPlainObject(over)) return merged;
  for (const [key, value] of Object.entries(over)) {
    const below = merged[key];
    merged[key] = (SECTIONS as readonly string[]).includes(key) && isPlainObject(below) &&
        isPlainObject(value)
      ? { ...below, ...value }
      : value;
  }
  return merged;
}

/**
 * What `policy` does with data at `level` on a host with `tee`: its action, or a block with the
 * reason when the policy wants a TEE for that level and the host has none.
 *
 * @example
 * ```ts
 * import { parsePolicy, policyAction } from "@a3s/safeclaw";
 * const policy = parsePolicy({ requireTeeAt: "Critical", actions: { Critical: "local_only" } });
 * console.log(policyAction(policy, "Critical", { kind: null }).action); // "block"
 * ```
 */
export function policyAction(
  policy: Policy,
  level: Level,
  tee: { kind: string | null },
): { action: Action; teeRefusal?: string } {
  const teeAt = policy.requireTeeAt;
  if (teeAt && atLeast(level, teeAt) && !tee.kind) {
    return {
      action: "block",
      teeRefusal: `${level} data needs a TEE (SEV-SNP or TDX) and this host has none`,
    };
  }
  return { action: policy.actions[level] };
}

/** The level of one entity type under `policy`. */
export function levelOf(policy: Policy, type: EntityType): Level {
  return policy.types[type] ?? DEFAULT_TYPE_LEVELS[type];
}
