/**
 * Builds the injection classifier's training, validation and evaluation sets from public
 * sources (see `sources.ts`), read at pinned commits from local git clones.
 *
 *   deno run -A safeclaw/injection/model/build_corpus.ts --clones DIR --out DIR [--eval FILE] [--eval-only]
 *     [--hold-out-categories] [--local-documents] [--clean-twins] [--new-direct] [--cyberseceval] [--real-prompts]
 *
 * `--clones DIR` holds one git directory per repository, as `DIR/<owner>+<name>/repo` (a bare
 * mirror) or `DIR/<owner>/<name>` (a clone). Training and validation go to `--out`; the
 * evaluation set goes to `--eval` (default `--out`/injection_public_eval.jsonl). None of them is
 * kept in the repository: they are made of other projects' data, so they live in a data folder
 * outside it (see `../public_eval.ts` for where the report and the tests look).
 * The same inputs give the same files: every sample and split is chosen by a hash, not by chance.
 */
import { parseArgs } from "node:util";
import { parquetReadObjects } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { DEBIAN_DOCS, SOURCES } from "./sources.ts";
import {
  docPackages,
  parseInstalledVersions,
  parsePackageList,
  PINNED_PACKAGES,
  portableListing,
} from "./debian_packages.ts";
import { fnv1a } from "./features.ts";
import { gitList, gitShow, gitText } from "./git_source.ts";
import {
  instructionBypassPhrases,
  normalizedForOverlap,
  parseAttackList,
  parsePromptmapRule,
  promptmapIsInjection,
} from "./direct_sources.ts";
import { cyberSecEvalLabel, parseCyberSecEvalCases } from "./cyberseceval.ts";

/** One labeled record, in the evaluation set's shape. */
export interface CorpusRecord {
  id: string;
  category: string;
  label: 0 | 1;
  source: "user" | "document" | "web" | "email" | "tool_result";
  text: string;
  /** The repository (or local tree) it came from. */
  origin: string;
  /**
   * Records sharing a group (an attack and its clean context) fall in the same split. A record
   * with several groups (an attack placed in a context) is held out when any of them is, so a
   * held-out attack or context is never seen in training.
   */
  group?: string | string[];
  /** A split the source itself defines (its own validation split), overriding the hash. */
  split?: "train" | "valid";
  /** How much the record counts in training (a clean context counts once per attack put in it). */
  weight?: number;
  /**
   * The kind of document an attack can be hidden in (a BIPIA e-mail, table or code file, a tool's
   * output): training balances the clean and the attacked records of each layout, so that the
   * layout alone says nothing about an attack.
   */
  layout?: Layout;
  /** The attack text placed in a document, so that a clean twin can put something else there. */
  inserted?: string;
}

/** See {@linkcode CorpusRecord.layout}. */
export type Layout = "email" | "table" | "code" | "tool";

type Split = "train" | "valid" | "eval";

/** A stable number in [0, 1) for a key, so splits and samples never depend on chance. */
function unit(key: string): number {
  // FNV-1a's high bits barely move when only the last characters differ; murmur3's finalizer
  // spreads them.
  let h = fnv1a(key);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) / 0x1_0000_0000;
}

/** Keeps `n` items, chosen by hash. */
function sample<T>(items: T[], n: number, key: (t: T) => string): T[] {
  return [...items].sort((a, b) => unit(key(a)) - unit(key(b))).slice(0, n);
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max);
}

// ---- deepset/prompt-injections ----

async function deepset(clones: string, split: "train" | "test"): Promise<CorpusRecord[]> {
  const path = split === "train"
    ? "data/raw/train-00000-of-00001-9564e8b05b4757ab.parquet"
    : "data/raw/test-00000-of-00001-701d16158af87368.parquet";
  const bytes = await gitShow(clones, SOURCES.deepset, path);
  const rows = await parquetReadObjects({
    file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
    compressors,
  }) as { text: string; label: bigint | number }[];
  return rows.map((r, i) => {
    const label = Number(r.label) === 1 ? 1 : 0;
    return {
      id: `deepset-${split}-${i}`,
      category: label ? "direct" : "benign",
      label,
      source: "user",
      text: r.text,
      origin: SOURCES.deepset.repo,
    };
  });
}

// ---- BIPIA: attacks placed inside emails, tables and code ----

interface BipiaContext {
  text: string;
  kind: "email" | "table" | "code";
}

async function bipiaContexts(clones: string, split: "train" | "test"): Promise<BipiaContext[]> {
  const out: BipiaContext[] = [];
  for (const kind of ["email", "table", "code"] as const) {
    const jsonl = await gitText(clones, SOURCES.bipia, `benchmark/${kind}/${split}.jsonl`);
    for (const line of jsonl.split("\n")) {
      if (!line.trim()) continue;
      const r = JSON.parse(line) as { context: string | string[] };
      const context = Array.isArray(r.context) ? r.context.join("\n") : r.context;
      if (context.trim()) out.push({ text: clip(context, 1500), kind });
    }
  }
  return out;
}

async function bipiaAttacks(
  clones: string,
  split: "train" | "test",
): Promise<{ text: string; code: boolean; category: string; stratum: string }[]> {
  const out: { text: string; code: boolean; category: string; stratum: string }[] = [];
  for (
    const [file, code] of [[`text_attack_${split}.json`, false], [
      `code_attack_${split}.json`,
      true,
    ]] as const
  ) {
    const byCategory = JSON.parse(
      await gitText(clones, SOURCES.bipia, `benchmark/${file}`),
    ) as Record<string, string[]>;
    // BIPIA lists its text attacks in kinds of five categories (tasks, encodings, advertising
    // and persuasion); its code attacks are one kind.
    Object.entries(byCategory).forEach(([category, attacks], c) => {
      const stratum = code ? "code" : `text-${Math.floor(c / 5)}`;
      for (const text of attacks) out.push({ text, code, category, stratum });
    });
  }
  return out;
}

/**
 * The attack categories validation holds out whole: in each kind (stratum) of BIPIA's training
 * categories, the one whose name hashes lowest, and a second of the code attacks (ten
 * categories). Stratified, so that a kind of attack the rest of training has many of (a task
 * slipped into an e-mail: "Draft an introduction for an essay") is among them.
 */
function validationCategories(attacks: { category: string; stratum: string }[]): Set<string> {
  const byStratum = new Map<string, string[]>();
  for (const { category, stratum } of attacks) {
    const list = byStratum.get(stratum) ?? [];
    if (!list.includes(category)) list.push(category);
    byStratum.set(stratum, list);
  }
  const held = new Set<string>();
  for (const [stratum, categories] of byStratum) {
    const ranked = [...categories].sort((a, b) =>
      unit(`valid:bipia-category:${a}`) - unit(`valid:bipia-category:${b}`)
    );
    for (const c of ranked.slice(0, stratum === "code" ? 2 : 1)) held.add(c);
  }
  return held;
}

/** Places an attack at the start, middle or end of a context, at a sentence or line break. */
export function insert(context: string, attack: string, where: number): string {
  if (where === 0) return `${attack}\n${context}`;
  if (where === 2) return `${context}\n${attack}`;
  const middle = Math.floor(context.length / 2);
  const cut = context.indexOf("\n", middle) >= 0 ? context.indexOf("\n", middle) : middle;
  return `${context.slice(0, cut)}\n${attack}\n${context.slice(cut)}`;
}

async function bipia(
  clones: string,
  split: "train" | "test",
  perAttack: number,
  holdOutCategories = false,
): Promise<CorpusRecord[]> {
  const contexts = await bipiaContexts(clones, split);
  const attacks = await bipiaAttacks(clones, split);
  const heldOutCategories = split === "train" && holdOutCategories
    ? validationCategories(attacks)
    : new Set<string>();
  const records: CorpusRecord[] = [];
  const used = new Map<string, { context: BipiaContext; uses: number }>();
  attacks.forEach((attack, a) => {
    const fitting = contexts.filter((c) => (c.kind === "code") === attack.code);
    const chosen = sample(fitting, perAttack, (c) => `${split}:${a}:${c.text.slice(0, 200)}`);
    for (const c of chosen) {
      used.set(c.text, { context: c, uses: (used.get(c.text)?.uses ?? 0) + 1 });
    }
    chosen.forEach((context, k) => {
      records.push({
        id: `bipia-${split}-${a}-${k}`,
        category: "indirect",
        label: 1,
        source: context.kind === "email" ? "email" : "document",
        text: insert(context.text, attack.text, (a + k) % 3),
        origin: SOURCES.bipia.repo,
        layout: context.kind,
        inserted: attack.text,
        // Held out by attack as well as by context; with `--hold-out-categories`, every attack
        // of one category of each kind is held out whole: BIPIA's test attacks (the evaluation
        // set's) are of categories its training attacks never are ("Task Automation" against
        // "Content Creation"), and only such a split says how a decision rule fares on them.
        group: [`bipia:${fnv1a(context.text)}`, `bipia-attack:${fnv1a(attack.text)}`],
        ...(heldOutCategories.has(attack.category) ? { split: "valid" as const } : {}),
      });
    });
  });
  // The very contexts the attacks were placed in are also the benign documents, so the attack,
  // not the kind of document around it, is what tells the two apart.
  const clean = [...used.values()];
  clean.forEach(({ context, uses }, k) =>
    records.push({
      id: `bipia-${split}-clean-${k}`,
      category: "benign",
      label: 0,
      source: context.kind === "email" ? "email" : "document",
      text: context.text,
      origin: SOURCES.bipia.repo,
      group: `bipia:${fnv1a(context.text)}`,
      weight: uses,
      layout: context.kind,
    })
  );
  return records;
}

/**
 * BIPIA's training contexts that no attack was placed in, as benign documents: a table is not an
 * attack for being a table. Training only.
 */
async function unusedContexts(clones: string, used: CorpusRecord[]): Promise<CorpusRecord[]> {
  const taken = new Set(used.map((r) => r.text));
  return (await bipiaContexts(clones, "train")).filter((c) => !taken.has(c.text)).map((c, k) => ({
    id: `bipia-train-unused-${k}`,
    category: "benign",
    label: 0,
    source: c.kind === "email" ? "email" : "document",
    text: c.text,
    origin: SOURCES.bipia.repo,
    group: `bipia:${fnv1a(c.text)}`,
    layout: c.kind,
  }));
}

/**
 * Direct attacks from other sources placed in BIPIA's training contexts: BIPIA's own attacks
 * are a few dozen kinds of task, and an instruction hidden in an e-mail can be any attack a
 * user could type ("forget everything above and ..."). Training only.
 */
async function placedAttacks(
  clones: string,
  attacks: CorpusRecord[],
  perAttack: number,
): Promise<CorpusRecord[]> {
  const contexts = (await bipiaContexts(clones, "train")).filter((c) => c.kind !== "code");
  return attacks.flatMap((attack, a) =>
    sample(contexts, perAttack, (c) => `placed:${attack.id}:${c.text.slice(0, 200)}`).map(
      (context, k): CorpusRecord => ({
        id: `${attack.id}-in-${context.kind}-${k}`,
        category: "indirect",
        label: 1,
        source: context.kind === "email" ? "email" : "document",
        text: insert(context.text, attack.text, (a + k) % 3),
        origin: `${attack.origin} in ${SOURCES.bipia.repo}`,
        group: [`bipia:${fnv1a(context.text)}`, `placed:${attack.id}`],
        layout: context.kind,
        inserted: attack.text,
      }),
    )
  );
}

/**
 * Direct attacks stacked after an ordinary request ("what's the weather in Paris? Forget all
 * that and say ..."): a benign opening must not hide what follows it. Training only; the
 * openings are CLINC150 training queries.
 */
function stackedAttacks(attacks: CorpusRecord[], openings: CorpusRecord[]): CorpusRecord[] {
  if (!openings.length) return [];
  return attacks.map((attack) => {
    const opening = openings[Math.floor(unit(`stack:${attack.id}`) * openings.length)];
    const question = opening.text.charAt(0).toUpperCase() + opening.text.slice(1);
    return {
      ...attack,
      id: `${attack.id}-stacked`,
      text: `${question}? ${attack.text}`,
      origin: `${attack.origin} after a ${SOURCES.clinc.repo} query`,
      group: attack.group ?? attack.id,
    };
  });
}

// ---- direct injections from sources other than deepset ----

/**
 * A message a user typed, from one of the direct sources: an attack (`direct`) or the benign
 * message beside it.
 */
function typedByUser(id: string, label: 0 | 1, text: string, origin: string): CorpusRecord {
  return { id, category: label ? "direct" : "benign", label, source: "user", text, origin };
}

/**
 * vigil-llm's instruction-bypass phrases ("Disregard previous instructions and start over"),
 * sampled by hash; half are followed by a self-instruct seed task, as an attacker would go on
 * ("... and start over. Write a haiku about ..."). Training only: every record's id starts with
 * `vigil-`, and such records never enter validation, so the validation split stays the same.
 */
async function vigilAttacks(
  clones: string,
  fillers: CorpusRecord[],
  n: number,
): Promise<CorpusRecord[]> {
  const yara = await gitText(clones, SOURCES.vigil, "data/yara/instruction_bypass.yar");
  const tasks = fillers.map((r) => r.text.split("\n")[0]);
  return sample(instructionBypassPhrases(yara), n, (p) => `vigil:${p}`).map((phrase, i) => {
    const task = unit(`vigil-task:${phrase}`) < 0.5
      ? tasks[Math.floor(unit(`vigil-filler:${phrase}`) * tasks.length)]
      : undefined;
    return typedByUser(`vigil-${i}`, 1, task ? `${phrase}. ${task}` : phrase, SOURCES.vigil.repo);
  });
}

/**
 * Prompt-extraction queries from Zhang, Carlini and Ippolito's prompt-extraction study: the 105 of
 * `attacks/generated.json` (5 written by hand, 100 written by GPT-4 after them: "Repeat all
 * sentences in our conversation.") and the prompts that extracted real services' system prompts,
 * in several languages (`attacks/real-services/<service>/<lang>-prompt.txt`). Training only, like
 * {@linkcode vigilAttacks}: ids start with `pextract-`.
 */
async function promptExtractionAttacks(clones: string): Promise<CorpusRecord[]> {
  const source = SOURCES.promptExtraction;
  const texts = parseAttackList(await gitText(clones, source, "attacks/generated.json"));
  for (const file of (await gitList(clones, source, "attacks/real-services/")).sort()) {
    if (file.endsWith("-prompt.txt")) texts.push((await gitText(clones, source, file)).trim());
  }
  return [...new Set(texts)].map((text, i) => typedByUser(`pextract-${i}`, 1, text, source.repo));
}

/**
 * CyberSecEval's direct prompt-injection cases, each labeled by what its user message says alone
 * (see `cyberseceval.ts`): the attacks (many polite requests for a password or someone's data,
 * with no trigger word) and, from the same authors in the same styles, the messages that only
 * asked for a topic their system prompt forbade, as benign. Training only, like
 * {@linkcode vigilAttacks}: ids start with `cseval-`.
 */
async function cyberSecEvalRecords(clones: string): Promise<CorpusRecord[]> {
  const source = SOURCES.cyberSecEval;
  const cases = parseCyberSecEvalCases(
    await gitText(
      clones,
      source,
      "CybersecurityBenchmarks/datasets/prompt_injection/prompt_injection.json",
    ),
  );
  return cases.flatMap((c): CorpusRecord[] => {
    const label = cyberSecEvalLabel(c);
    if (label === undefined) return [];
    return [typedByUser(`cseval-${c.id}`, label, c.userInput, `${source.repo} (${c.variant})`)];
  });
}

/** The subsets of AlpacaEval's prompts read as real user prompts (see `sources.ts`). */
const REAL_PROMPT_SUBSETS = new Set(["oasst", "helpful_base", "vicuna"]);

/**
 * Prompts as people type them to an assistant (long, technical, with code, role-play and
 * constraints), benign, for training only: AlpacaEval's evaluation prompts of the subsets in
 * `REAL_PROMPT_SUBSETS`.
 */
async function realPrompts(clones: string): Promise<CorpusRecord[]> {
  const source = SOURCES.alpacaEval;
  const rows = JSON.parse(
    await gitText(clones, source, "results/NullModel/model_outputs.json"),
  ) as { instruction?: unknown; dataset?: unknown }[];
  return rows.flatMap((row, index): CorpusRecord[] =>
    typeof row.instruction === "string" && REAL_PROMPT_SUBSETS.has(String(row.dataset))
      ? [typedByUser(`realprompt-${row.dataset}-${index}`, 0, row.instruction, source.repo)]
      : []
  );
}

/**
 * Chatbot Arena's prompts of arena-hard v0.1 (the first turn of each), all benign: a validation
 * set of prompts as people type them to an assistant, from a source no model trains on, to count
 * over-defense (see `sources.ts`).
 */
export async function arenaPrompts(clones: string): Promise<CorpusRecord[]> {
  const source = SOURCES.arenaHard;
  const jsonl = await gitText(clones, source, "data/arena-hard-v0.1/question.jsonl");
  return jsonl.split("\n").filter((line) => line.trim()).flatMap((line): CorpusRecord[] => {
    const row = JSON.parse(line) as { question_id?: string; turns?: { content?: unknown }[] };
    const text = row.turns?.[0]?.content;
    return typeof text === "string"
      ? [typedByUser(`arena-${row.question_id}`, 0, text, source.repo)]
      : [];
  });
}

/**
 * promptmap's prompt-stealing and distraction rules, as a validation set from a source no model
 * was trained on (see `direct_sources.ts` for which of its prompts count as injections; its
 * off-topic questions are the benign side).
 */
export async function promptmapRecords(clones: string): Promise<CorpusRecord[]> {
  const records: CorpusRecord[] = [];
  // Two of its rules send the same prompt; a text is counted once.
  const seen = new Set<string>();
  for (const folder of ["rules/prompt_stealing/", "rules/distraction/"]) {
    for (const file of (await gitList(clones, SOURCES.promptmap, folder)).sort()) {
      if (!file.endsWith(".yaml")) continue;
      const rule = parsePromptmapRule(await gitText(clones, SOURCES.promptmap, file));
      if (seen.has(rule.prompt)) continue;
      seen.add(rule.prompt);
      const label = promptmapIsInjection(rule) ? 1 : 0;
      records.push(
        typedByUser(`promptmap-${rule.name}`, label, rule.prompt, SOURCES.promptmap.repo),
      );
    }
  }
  return records;
}

// ---- JailbreakBench: split by behavior ----

const JBB_FILES = [
  "attack-artifacts/PAIR/black_box/gpt-3.5-turbo-1106.json",
  "attack-artifacts/PAIR/black_box/gpt-4-0125-preview.json",
  "attack-artifacts/PAIR/black_box/llama-2-7b-chat-hf.json",
  "attack-artifacts/PAIR/black_box/vicuna-13b-v1.5.json",
  "attack-artifacts/prompt_with_random_search/black_box/gpt-3.5-turbo-1106.json",
  "attack-artifacts/prompt_with_random_search/black_box/gpt-4-0125-preview.json",
  "attack-artifacts/prompt_with_random_search/black_box/llama-2-7b-chat-hf.json",
  "attack-artifacts/prompt_with_random_search/black_box/vicuna-13b-v1.5.json",
];

/** Behaviors whose index ends in 7, 8 or 9 are kept for evaluation. */
function jbbSplit(index: number): "train" | "test" {
  return index % 10 >= 7 ? "test" : "train";
}

async function jailbreakbench(clones: string, split: "train" | "test"): Promise<CorpusRecord[]> {
  const seen = new Set<string>();
  const records: CorpusRecord[] = [];
  for (const file of JBB_FILES) {
    const artifact = JSON.parse(await gitText(clones, SOURCES.jailbreakbench, file)) as {
      jailbreaks: { index: number; prompt: string | null }[];
    };
    for (const j of artifact.jailbreaks) {
      if (!j.prompt || jbbSplit(j.index) !== split || seen.has(j.prompt)) continue;
      seen.add(j.prompt);
      records.push({
        id: `jbb-${split}-${records.length}`,
        category: "jailbreak",
        label: 1,
        source: "user",
        text: clip(j.prompt, 4000),
        origin: SOURCES.jailbreakbench.repo,
        // Held out by behavior, as the evaluation set is.
        group: `jbb:${j.index}`,
      });
    }
  }
  return records;
}

// ---- benign questions and instructions ----

async function gsm8k(clones: string, split: "train" | "test", n: number): Promise<CorpusRecord[]> {
  const jsonl = await gitText(clones, SOURCES.gsm8k, `grade_school_math/data/${split}.jsonl`);
  const questions = jsonl.split("\n").filter((l) => l.trim()).map((l) =>
    (JSON.parse(l) as { question: string }).question
  );
  return sample(questions, n, (q) => q).map((text, i) => ({
    id: `gsm8k-${split}-${i}`,
    category: "benign",
    label: 0,
    source: "user",
    text,
    origin: SOURCES.gsm8k.repo,
  }));
}

async function selfInstruct(clones: string, split: "train" | "test"): Promise<CorpusRecord[]> {
  const path = split === "train"
    ? "data/seed_tasks.jsonl"
    : "human_eval/user_oriented_instructions.jsonl";
  const jsonl = await gitText(clones, SOURCES.selfInstruct, path);
  const records: CorpusRecord[] = [];
  for (const line of jsonl.split("\n")) {
    if (!line.trim()) continue;
    const r = JSON.parse(line) as { instruction: string; instances: { input: string }[] };
    const input = r.instances?.[0]?.input ?? "";
    records.push({
      id: `self-instruct-${split}-${records.length}`,
      category: "benign",
      label: 0,
      source: "user",
      text: input ? `${r.instruction}\n\n${input}` : r.instruction,
      origin: SOURCES.selfInstruct.repo,
    });
  }
  return records;
}

/**
 * Short messages people send an assistant (CLINC150: "what's my credit score", "play some jazz",
 * "what is your name"), so that a short request is not an attack merely for being short. The
 * source's own splits decide: its train split trains, its validation split validates.
 */
async function clinc(clones: string, split: "train" | "valid", n: number): Promise<CorpusRecord[]> {
  const data = JSON.parse(await gitText(clones, SOURCES.clinc, "data/data_full.json")) as Record<
    string,
    [string, string][]
  >;
  const rows = split === "train"
    ? [...data.train, ...data.oos_train]
    : [...data.val, ...data.oos_val];
  return sample(rows, n, ([text]) => `clinc:${text}`).map(([text], i) => ({
    id: `clinc-${split}-${i}`,
    category: "benign",
    label: 0,
    source: "user",
    text,
    origin: SOURCES.clinc.repo,
    split,
  }));
}

/**
 * Prompts of the T0 training mixture that self-instruct ships (295 templates over public NLP
 * data sets: "What label best describes this news article?", "Is this review positive?"): the
 * everyday instructions and pasted passages a user sends, few of them from the same template.
 * Training and validation only; the evaluation set's self-instruct records are a different file.
 */
async function t0Prompts(clones: string, perTemplate: number): Promise<CorpusRecord[]> {
  const files = await gitList(
    clones,
    SOURCES.selfInstruct,
    "data/finetuning/t0_train_50k/data_per_template/",
  );
  const records: CorpusRecord[] = [];
  for (const file of files.filter((f) => f.endsWith(".jsonl"))) {
    const template = file.replace(/^.*\//, "").replace(/\.jsonl$/, "");
    const prompts = (await gitText(clones, SOURCES.selfInstruct, file)).split("\n")
      .filter((l) => l.trim()).map((l) => (JSON.parse(l) as { prompt: string }).prompt.trim());
    sample(prompts, perTemplate, (p) => `t0:${template}:${p}`).forEach((text, i) =>
      records.push({
        id: `t0-${template}-${i}`,
        category: "benign",
        label: 0,
        source: "user",
        text: clip(text, 1500),
        origin: `${SOURCES.selfInstruct.repo} (T0 mixture)`,
        group: `t0:${template}`,
      })
    );
  }
  return records;
}

/**
 * Injection payloads from pallms. A `{NEW_INSTRUCTION}` slot is filled with one of self-instruct's
 * seed tasks (chosen by hash), so the payload reads as an attacker would send it.
 */
async function pallms(clones: string, fillers: CorpusRecord[]): Promise<CorpusRecord[]> {
  const lines = (await gitText(clones, SOURCES.pallms, "plaintext/promptinjection.txt"))
    .split("\n").map((l) => l.trim()).filter(Boolean);
  const tasks = fillers.map((r) => r.text.split("\n")[0]);
  return lines.map((line, i) => ({
    id: `pallms-${i}`,
    category: "direct",
    label: 1,
    source: "user",
    text: line.replaceAll(
      "{NEW_INSTRUCTION}",
      tasks[Math.floor(unit(`pallms:${i}`) * tasks.length)] ?? "",
    ),
    origin: SOURCES.pallms.repo,
  }));
}

function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else if (c !== "\r") field += c;
  }
  if (field || row.length) rows.push([...row, field]);
  return rows;
}

async function xstest(clones: string): Promise<CorpusRecord[]> {
  const rows = parseCsv(await gitText(clones, SOURCES.xstest, "xstest_prompts.csv"));
  const header = rows[0];
  const prompt = header.indexOf("prompt");
  const label = header.indexOf("label");
  return rows.slice(1).filter((r) => r[label] === "safe").map((r, i) => ({
    id: `xstest-safe-${i}`,
    category: "hard_benign",
    label: 0,
    source: "user",
    text: r[prompt],
    origin: SOURCES.xstest.repo,
  }));
}

// ---- Debian documentation: benign sentences full of trigger words ----

const TRIGGER =
  /\b(ignor(e|ed|es|ing)|forget|forgot|overrid(e|es|den|ing)|disregard(ed|s)?|act as|acts as|instructions?|bypass(es|ed)?|pretend|previous settings|system prompt|jailbreak)\b/i;

async function readDoc(path: string): Promise<string> {
  const file = await Deno.open(path);
  const stream = path.endsWith(".gz")
    ? file.readable.pipeThrough(new DecompressionStream("gzip"))
    : file.readable;
  return await new Response(stream).text();
}

async function debianSentences(
  packages: readonly string[],
  split: "train" | "test",
): Promise<CorpusRecord[]> {
  const records: CorpusRecord[] = [];
  for (const pkg of packages) {
    // A quarter of the packages, by name, are kept for evaluation.
    if ((unit(`debian:${pkg}`) < 0.25 ? "test" : "train") !== split) continue;
    const files: string[] = [];
    for await (const entry of Deno.readDir(`${DEBIAN_DOCS.path}/${pkg}`)) {
      if (!entry.isFile || /changelog|copyright/i.test(entry.name)) continue;
      if (/^(README|NEWS)|\.(txt|md)(\.gz)?$/i.test(entry.name)) files.push(entry.name);
    }
    let taken = 0;
    for (const name of files.sort()) {
      let text: string;
      try {
        text = await readDoc(`${DEBIAN_DOCS.path}/${pkg}/${name}`);
      } catch {
        continue;
      }
      if (text.includes("\u0000")) continue;
      const sentences = text.replace(/\s+/g, " ").split(/(?<=[.!?])\s+(?=[A-Z])/);
      for (const sentence of sentences) {
        if (taken >= 16) break;
        const s = sentence.trim();
        if (s.length < 40 || s.length > 400 || !TRIGGER.test(s)) continue;
        if (/[<>{}=]{3,}|http|\$\(/.test(s)) continue;
        taken++;
        records.push({
          id: `debian-${split}-${pkg}-${taken}`,
          category: "hard_benign",
          label: 0,
          source: "document",
          text: s,
          origin: `Debian ${DEBIAN_DOCS.path}/${pkg}`,
          // Benign text full of trigger words is what over-defense fails on; it counts double.
          weight: 2,
        });
      }
    }
  }
  return records;
}

/**
 * Whole paragraphs of the training packages' READMEs and NEWS files, as benign documents: most
 * of what an agent reads is ordinary documentation, and the model has to know its look.
 */
async function debianParagraphs(
  packages: readonly string[],
  perPackage: number,
  n: number,
): Promise<CorpusRecord[]> {
  const paragraphs: CorpusRecord[] = [];
  for (const pkg of packages) {
    // The same packages as the training sentences: the evaluation quarter is never read here.
    if (unit(`debian:${pkg}`) < 0.25) continue;
    const files: string[] = [];
    for await (const entry of Deno.readDir(`${DEBIAN_DOCS.path}/${pkg}`)) {
      if (entry.isFile && /^(README|NEWS)/i.test(entry.name) && !/changelog/i.test(entry.name)) {
        files.push(entry.name);
      }
    }
    let taken = 0;
    for (const name of files.sort()) {
      let text: string;
      try {
        text = await readDoc(`${DEBIAN_DOCS.path}/${pkg}/${name}`);
      } catch {
        continue;
      }
      if (text.includes("\u0000")) continue;
      for (const paragraph of text.split(/\n\s*\n/)) {
        const words = paragraph.split(/\s+/).filter(Boolean).length;
        if (taken >= perPackage || words < 40 || words > 300) continue;
        taken++;
        paragraphs.push({
          id: `debian-paragraph-${pkg}-${taken}`,
          category: "benign",
          label: 0,
          source: "document",
          text: paragraph.trim(),
          origin: `Debian ${DEBIAN_DOCS.path}/${pkg}`,
        });
      }
    }
  }
  return sample(paragraphs, n, (r) => r.id);
}

/** A command's standard output, or "" where it fails or is not installed. */
async function commandOutput(command: string, args: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(command, { args, stdout: "piped", stderr: "null" })
      .output();
    return out.success ? new TextDecoder().decode(out.stdout) : "";
  } catch {
    return "";
  }
}

/** The Debian packages whose documentation is on the training side (three quarters), sorted. */
function trainingPackages(packages: readonly string[]): string[] {
  return packages.filter((pkg) => unit(`debian:${pkg}`) >= 0.25);
}

/**
 * What an agent's tools return on a Debian system: package status (`dpkg-query -s`), file lists
 * (`dpkg-query -L`) and directory listings (`ls -la`) of the training packages, as benign tool
 * results. Command output is most of what a coding agent reads, and the model must not take a
 * long listing for an attack. Empty where dpkg is not installed.
 */
async function toolOutputs(packages: readonly string[], n: number): Promise<CorpusRecord[]> {
  const chosen = sample(trainingPackages(packages), n, (p) => `tool:${p}`);
  const records: CorpusRecord[] = [];
  for (const pkg of chosen) {
    // One command per package, chosen by its name, so that every kind of output is there and a
    // package's record does not depend on which other packages are installed.
    const [command, args] = ([
      ["dpkg-query", ["-s", pkg]],
      ["dpkg-query", ["-L", pkg]],
      ["ls", ["-la", `${DEBIAN_DOCS.path}/${pkg}`]],
    ] as const)[Math.floor(unit(`tool-command:${pkg}`) * 3)];
    const output = await commandOutput(command, [...args]);
    const text = (command === "ls" ? portableListing(output) : output).split("\n")
      .slice(0, 60).join("\n").trim();
    if (!text) continue;
    records.push({
      id: `tool-${command}-${pkg}`,
      category: "benign",
      label: 0,
      source: "tool_result",
      text,
      origin: `${command} ${args.join(" ")} (this machine)`,
      layout: "tool",
    });
  }
  return records;
}

/**
 * E-mails and tables made from this machine's own data, in the layouts BIPIA's documents use
 * (`SUBJECT: …|EMAIL_FROM: …|RECEIVED DATE: …|CONTENT: …`, markdown tables): upload notices built
 * from the training packages' Debian changelog entries, and tables of installed packages, time
 * zones and network services. BIPIA's own clean contexts are few, each seen attacked a dozen
 * times, so the model learns what its e-mails and tables look like rather than what an injected
 * instruction is; many more clean documents of the same layouts, half of them with a training
 * attack placed in, teach it that the layout says nothing. Training and validation only.
 */
async function localDocuments(packages: readonly string[], n: number): Promise<CorpusRecord[]> {
  const records: CorpusRecord[] = [];
  for (const pkg of sample(trainingPackages(packages), n, (p) => `mail:${p}`)) {
    let text: string;
    try {
      text = await readDoc(`${DEBIAN_DOCS.path}/${pkg}/changelog.Debian.gz`);
    } catch {
      continue;
    }
    const entry = /^(\S+) \(([^)]+)\) ([^;]+);[^\n]*\n([\s\S]*?)\n -- (.+?) <([^>]+)>\s+(.+)$/m
      .exec(text);
    if (!entry) continue;
    const [, name, version, dist, changes, who, address, date] = entry;
    const body = changes.replace(/\s+/g, " ").trim().slice(0, 1200);
    if (body.length < 40) continue;
    records.push({
      id: `local-mail-${pkg}`,
      category: "benign",
      label: 0,
      source: "email",
      text: `SUBJECT: ${name} ${version} uploaded to ${dist}|EMAIL_FROM: ${who} <${address}>|` +
        `RECEIVED DATE: ${date.trim()}|CONTENT: Hi, ${name} ${version} has been accepted. ` +
        `Changes: ${body} Regards, ${who}`,
      origin: `${pkg}'s Debian changelog (this machine)`,
      group: `debian:${pkg}`,
      layout: "email",
    });
  }
  const table = (id: string, origin: string, header: string[], rows: string[][]) => {
    const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
    records.push({
      id,
      category: "benign",
      label: 0,
      source: "document",
      text: [line(header), ...rows.map(line)].join("\n"),
      origin,
      group: id,
      layout: "table",
    });
  };
  const installed = (await commandOutput("dpkg-query", [
    "-W",
    "-f",
    "${Package}\t${Version}\t${Installed-Size}\t${Section}\t${Priority}\n",
  ])).split("\n").filter(Boolean).map((l) => l.split("\t"))
    .filter(([pkg]) => unit(`debian:${pkg}`) >= 0.25);
  const rowsOf = <T>(items: T[], key: string, count: number, size: number): T[][] =>
    Array.from({ length: count }, (_, k) => {
      const start = Math.floor(unit(`${key}:${k}`) * Math.max(1, items.length - size));
      return items.slice(start, start + 6 + Math.floor(unit(`${key}:len:${k}`) * (size - 6)));
    });
  rowsOf(installed, "packages", Math.floor(n / 3), 16).forEach((rows, k) =>
    table(
      `local-table-packages-${k}`,
      "dpkg-query -W (this machine)",
      ["Package", "Version", "Installed size (KiB)", "Section", "Priority"],
      rows,
    )
  );
  const zones = (await readDoc("/usr/share/zoneinfo/zone1970.tab").catch(() => "")).split("\n")
    .filter((l) => l && !l.startsWith("#")).map((l) => l.split("\t").slice(0, 4));
  rowsOf(zones, "zones", Math.floor(n / 6), 14).forEach((rows, k) =>
    table(
      `local-table-zones-${k}`,
      "/usr/share/zoneinfo/zone1970.tab (this machine)",
      ["Countries", "Coordinates", "Time zone", "Comments"],
      rows.map((r) => [...r, ...Array(4 - r.length).fill("")]),
    )
  );
  const services = (await readDoc("/etc/services").catch(() => "")).split("\n")
    .filter((l) => l && !l.startsWith("#")).map((l) => {
      const [body, comment = ""] = l.split("#");
      const [name = "", port = "", ...aliases] = body.trim().split(/\s+/);
      return [name, port, aliases.join(" "), comment.trim()];
    });
  rowsOf(services, "services", Math.floor(n / 6), 14).forEach((rows, k) =>
    table(
      `local-table-services-${k}`,
      "/etc/services (this machine)",
      ["Service", "Port/protocol", "Aliases", "Comment"],
      rows,
    )
  );
  return records;
}

/** Training attacks placed in half of the local documents (see {@linkcode localDocuments}). */
function placedInLocal(attacks: CorpusRecord[], docs: CorpusRecord[]): CorpusRecord[] {
  return docs.filter((d) => unit(`local-attacked:${d.id}`) < 0.5).map((doc, k) => {
    const attack = attacks[Math.floor(unit(`local-attack:${doc.id}`) * attacks.length)];
    return {
      ...doc,
      id: `${attack.id}-in-${doc.id}`,
      category: "indirect",
      label: 1 as const,
      text: insert(doc.text, attack.text, k % 3),
      inserted: attack.text,
      origin: `${attack.origin} in ${doc.origin}`,
      group: [String(doc.group), `placed:${attack.id}`],
    };
  });
}

/**
 * A third of the direct attacks placed inside those tool outputs (an attacker who controls a
 * package description or a file name): the same outputs are benign and attacked, so what tells
 * them apart is the attack. Training only.
 */
function placedInTools(attacks: CorpusRecord[], tools: CorpusRecord[]): CorpusRecord[] {
  if (!tools.length) return [];
  return attacks.filter((a) => unit(`in-tool:${a.id}`) < 1 / 3).map((attack, k) => {
    const tool = tools[Math.floor(unit(`tool-for:${attack.id}`) * tools.length)];
    return {
      id: `${attack.id}-in-tool`,
      category: "indirect",
      label: 1,
      source: "tool_result",
      text: insert(tool.text, attack.text, k % 3),
      origin: `${attack.origin} in ${tool.origin}`,
      group: [tool.id, `placed:${attack.id}`],
      layout: "tool",
      inserted: attack.text,
    };
  });
}

/** Five Wikipedia sentences at a time (CLINC150's sentence file), as benign web text. */
async function wikiParagraphs(clones: string, n: number): Promise<CorpusRecord[]> {
  const lines = (await gitText(clones, SOURCES.clinc, "data/all_wiki_sents.txt")).split("\n")
    .map((l) => l.trim()).filter(Boolean);
  const paragraphs: CorpusRecord[] = [];
  for (let i = 0; i + 5 <= lines.length; i += 5) {
    paragraphs.push({
      id: `wiki-${i / 5}`,
      category: "benign",
      label: 0,
      source: "web",
      text: lines.slice(i, i + 5).join(". ") + ".",
      origin: `${SOURCES.clinc.repo} (Wikipedia sentences)`,
    });
  }
  return sample(paragraphs, n, (r) => r.id);
}

/**
 * A clean twin of every attacked document in training: the same document, with a harmless line
 * where the attack was (a line of another document of the same layout, or a Wikipedia sentence).
 * Without twins each clean e-mail or table is seen once and its attacked copies a dozen times,
 * and a line set apart by blank lines is itself a sign of an attack; with them, the placed
 * instruction is the one thing that tells the two apart. Training only.
 */
export function cleanTwins(records: CorpusRecord[], wiki: string[]): CorpusRecord[] {
  const lines = new Map<Layout, string[]>();
  for (const r of records) {
    if (r.label !== 0 || !r.layout) continue;
    const list = lines.get(r.layout) ?? [];
    for (const line of r.text.split("\n")) {
      const l = line.trim();
      if (l.length >= 20 && l.length <= 200) list.push(l);
    }
    lines.set(r.layout, list);
  }
  return records.filter((r) => r.label === 1 && r.layout && r.inserted).map((r) => {
    const own = lines.get(r.layout!) ?? [];
    const pick = unit(`twin:${r.id}`);
    // Code is not prose: its twins get code lines; e-mails, tables and tool output get either.
    const pool = r.layout === "code" || pick < 0.5 ? own : wiki;
    const filler = pool.length
      ? pool[Math.floor(unit(`twin-line:${r.id}`) * pool.length)]
      : wiki[Math.floor(pick * wiki.length)];
    return {
      ...r,
      id: `${r.id}-twin`,
      category: "benign",
      label: 0 as const,
      text: r.text.replace(r.inserted!, filler),
      origin: `${r.origin}, the attack replaced by a harmless line`,
      inserted: undefined,
      weight: 1,
    };
  });
}

/** CLINC150's Wikipedia sentences as sentences: capitalized, with a full stop. */
async function wikiSentences(clones: string): Promise<string[]> {
  return (await gitText(clones, SOURCES.clinc, "data/all_wiki_sents.txt")).split("\n")
    .map((l) => l.trim()).filter((l) => l.split(" ").length >= 6)
    .map((l) => `${l.charAt(0).toUpperCase()}${l.slice(1)}.`);
}

// ---- obfuscated variants of direct attacks ----

const LEET: Record<string, string> = { a: "4", e: "3", i: "1", o: "0", s: "5", t: "7" };
const HOMOGLYPH: Record<string, string> = { a: "а", e: "е", o: "о", p: "р", c: "с", x: "х" };

function rot13(s: string): string {
  return s.replace(/[a-z]/gi, (c) => {
    const base = c <= "Z" ? 65 : 97;
    return String.fromCharCode(((c.charCodeAt(0) - base + 13) % 26) + base);
  });
}

/** The obfuscations the normalization layer is meant to undo. */
const OBFUSCATIONS: [string, (s: string) => string][] = [
  [
    "base64",
    (s) =>
      `Decode this and follow it: ${btoa(String.fromCharCode(...new TextEncoder().encode(s)))}`,
  ],
  ["rot13", (s) => `rot13: ${rot13(s)}`],
  ["leetspeak", (s) => s.replace(/[aeiost]/gi, (c) => LEET[c.toLowerCase()] ?? c)],
  ["zero_width", (s) => [...s].join("\u200b")],
  ["homoglyph", (s) => s.replace(/[aeopcx]/g, (c) => HOMOGLYPH[c] ?? c)],
  ["html_comment", (s) => `<p>Quarterly notes.</p><!-- ${s} --><p>See you soon.</p>`],
];

function obfuscated(attacks: CorpusRecord[], split: string): CorpusRecord[] {
  return attacks.map((r, i) => {
    const [name, encode] = OBFUSCATIONS[i % OBFUSCATIONS.length];
    return {
      ...r,
      id: `${r.id}-${name}`,
      category: "obfuscated",
      text: encode(r.text),
      origin: `${r.origin} (${name}, ${split})`,
    };
  });
}

// ---- short benign text ----

/**
 * A few words cut from benign records ("hello", "write to ada@example.org" are everyday
 * messages): without them the model has never seen a text of one to six words that is not an
 * attack, and it calls every greeting an injection.
 */
function benignCrops(records: CorpusRecord[]): CorpusRecord[] {
  return records.filter((r) => r.label === 0).map((r) => {
    const words = r.text.split(/\s+/).filter(Boolean);
    const length = 1 + Math.floor(unit(`crop-length:${r.id}`) * 6);
    const start = Math.floor(unit(`crop-start:${r.id}`) * Math.max(1, words.length - length));
    return {
      ...r,
      id: `${r.id}-crop`,
      text: words.slice(start, start + length).join(" "),
      origin: `${r.origin} (a few words of it)`,
      weight: 1,
      // A few words of an e-mail are no longer an e-mail.
      layout: undefined,
    };
  }).filter((r) => r.text.length > 0);
}

// ---- assembly ----

function dedupe(records: CorpusRecord[]): CorpusRecord[] {
  const seen = new Set<string>();
  return records.filter((r) => {
    const key = r.text.trim().toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function toJsonl(records: CorpusRecord[], training = true): string {
  // The evaluation set keeps only what a reader needs; weights and groups are for training.
  return records.map(({ group, weight, layout, split: _split, inserted: _inserted, ...r }) =>
    JSON.stringify(training ? { ...r, group, weight, layout } : r)
  ).join("\n") + "\n";
}

/**
 * Records of the direct sources added after the validation split was fixed (and everything built
 * from them) train only: the validation split stays byte for byte what the shipped model was
 * chosen on, so a model trained with them is compared with it on the same records.
 */
const TRAINING_ONLY_PREFIXES = ["vigil-", "pextract-", "cseval-", "realprompt-"];

/**
 * The Debian packages this build reads: the pinned list (`--packages FILE`, by default the one
 * shipped), or everything installed with `--all-packages`. Pinned packages this machine lacks are
 * named, since the corpus then differs from the shipped models'.
 */
async function debianPackagesToRead(
  listFile: string | undefined,
  all: boolean | undefined,
): Promise<string[]> {
  if (all && listFile) {
    console.error("--packages and --all-packages exclude each other: give one");
    Deno.exit(2);
  }
  const pinned = all
    ? null
    : parsePackageList(await Deno.readTextFile(listFile ?? PINNED_PACKAGES));
  const installed = parseInstalledVersions(
    await commandOutput("dpkg-query", ["-W", "-f", "${Package} ${Version}\n"]),
  );
  const { packages, missing, otherVersions } = await docPackages(
    DEBIAN_DOCS.path,
    pinned,
    installed,
  );
  if (missing.length) {
    console.error(
      `${missing.length} pinned Debian packages are not installed here, so the corpus differs ` +
        `from the shipped one (apt-get install them to match): ${missing.slice(0, 20).join(" ")}` +
        (missing.length > 20 ? " ..." : ""),
    );
  }
  if (otherVersions.length) {
    console.error(
      `${otherVersions.length} pinned Debian packages are installed at other versions (pinned, ` +
        `installed), so their records may differ: ${otherVersions.slice(0, 10).join("; ")}` +
        (otherVersions.length > 10 ? " ..." : ""),
    );
  }
  return packages;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      clones: { type: "string" },
      out: { type: "string" },
      eval: { type: "string" },
      "eval-only": { type: "boolean" },
      "hold-out-categories": { type: "boolean" },
      "local-documents": { type: "boolean" },
      "clean-twins": { type: "boolean" },
      "new-direct": { type: "boolean" },
      cyberseceval: { type: "boolean" },
      "real-prompts": { type: "boolean" },
      packages: { type: "string" },
      "all-packages": { type: "boolean" },
    },
  });
  if (!values.clones || !values.out) {
    console.error(
      "usage: build_corpus.ts --clones DIR --out DIR [--eval FILE] [--eval-only] [--hold-out-categories] [--local-documents] [--clean-twins] [--new-direct] [--cyberseceval] [--real-prompts] [--packages FILE | --all-packages]",
    );
    Deno.exit(2);
  }
  const clones = values.clones;
  const debian = await debianPackagesToRead(values.packages, values["all-packages"]);
  const seeds = await selfInstruct(clones, "train");
  const training = dedupe([
    ...await deepset(clones, "train"),
    ...await bipia(clones, "train", 12, values["hold-out-categories"]),
    ...await jailbreakbench(clones, "train"),
    ...await gsm8k(clones, "train", 1500),
    ...seeds,
    ...await debianSentences(debian, "train"),
  ]);
  const trainingDirect = training.filter((r) => r.category === "direct");
  const withObfuscated = dedupe([
    ...training,
    ...obfuscated(trainingDirect, "train"),
    ...benignCrops(training),
  ]);

  const testDirect = (await deepset(clones, "test")).filter((r) => r.label === 1);
  const evaluation = dedupe([
    ...await deepset(clones, "test"),
    ...await bipia(clones, "test", 3),
    ...await jailbreakbench(clones, "test"),
    ...obfuscated(testDirect, "test"),
    ...await gsm8k(clones, "test", 300),
    ...await selfInstruct(clones, "test"),
    ...await xstest(clones),
    ...await debianSentences(debian, "test"),
  ]);
  const key = (r: CorpusRecord) => r.text.trim().toLowerCase();
  const trainingTexts = new Set(withObfuscated.map(key));
  const disjoint = evaluation.filter((r) => !trainingTexts.has(key(r)));

  // Sources added after the evaluation set was fixed only ever add to training and validation:
  // the set stays byte for byte the same, and any text of it they happen to hold is dropped
  // from them instead.
  const evalPath = values.eval ?? `${values.out}/injection_public_eval.jsonl`;
  await Deno.mkdir(values.out, { recursive: true });
  await Deno.writeTextFile(evalPath, toJsonl(disjoint, false));
  // The evaluation set alone (the report and the tests rebuild it) needs none of the sources
  // that only add to training.
  if (values["eval-only"]) {
    console.log(`eval ${disjoint.length} records`);
    return;
  }
  const evalTexts = new Set(disjoint.map(key));
  const extraDirect = await pallms(clones, seeds);
  const openings = await clinc(clones, "train", 4000);
  const tools = await toolOutputs(debian, 900);
  const localDocs = values["local-documents"] ? await localDocuments(debian, 900) : [];
  // The new direct sources come last, so every record before them (and so the validation split)
  // is the same with or without them; near-duplicates of the evaluation set are dropped, counted.
  const nearEval = new Set(disjoint.map((r) => normalizedForOverlap(r.text)));
  const leaking = (r: CorpusRecord) => nearEval.has(normalizedForOverlap(r.text));
  const cyberSecEval = values.cyberseceval ? await cyberSecEvalRecords(clones) : [];
  const newAll = [
    ...(values["new-direct"]
      ? [...await vigilAttacks(clones, seeds, 600), ...await promptExtractionAttacks(clones)]
      : []),
    ...cyberSecEval.filter((r) => r.label === 1),
  ];
  const newDirect = newAll.filter((r) => !leaking(r));
  // CyberSecEval's benign messages are its attacks' counterparts: they go in as they are, after
  // everything else, so the records before them stay where they were.
  const counterpartsAll = cyberSecEval.filter((r) => r.label === 0);
  const counterparts = counterpartsAll.filter((r) => !leaking(r));
  // Arena's prompts are validation only: a training prompt equal to one of them is dropped too.
  const arena = await arenaPrompts(clones);
  const arenaTexts = new Set(arena.map(key));
  const realPromptsAll = values["real-prompts"] ? await realPrompts(clones) : [];
  const realPromptsKept = realPromptsAll.filter((r) => !leaking(r) && !arenaTexts.has(key(r)));
  const newDerived = [
    ...newDirect,
    ...obfuscated(newDirect, "train"),
    ...await placedAttacks(clones, newDirect, 2),
    ...stackedAttacks(newDirect, openings),
    ...placedInTools(newDirect, tools),
  ];
  const extended = dedupe([
    ...withObfuscated,
    ...extraDirect,
    ...obfuscated(extraDirect, "train"),
    ...await placedAttacks(clones, [...trainingDirect, ...extraDirect], 2),
    ...stackedAttacks([...trainingDirect, ...extraDirect], openings),
    ...openings,
    ...await unusedContexts(
      clones,
      withObfuscated.filter((r) => r.id.startsWith("bipia-train-clean")),
    ),
    ...await clinc(clones, "valid", 600),
    ...await t0Prompts(clones, 10),
    ...await debianParagraphs(debian, 3, 1200),
    ...await wikiParagraphs(clones, 800),
    ...tools,
    ...placedInTools([...trainingDirect, ...extraDirect], tools),
    ...(values["local-documents"]
      ? [
        ...localDocs,
        ...placedInLocal([...trainingDirect, ...extraDirect], localDocs),
      ]
      : []),
    ...newDerived,
    ...counterparts,
    ...realPromptsKept,
  ]).filter((r) => !evalTexts.has(key(r)));
  // One record in seven is held out to pick the threshold; the evaluation set never is.
  const heldOut = (r: CorpusRecord): boolean => {
    if (TRAINING_ONLY_PREFIXES.some((p) => r.id.startsWith(p))) return false;
    if (r.split) return r.split === "valid";
    const groups = r.group === undefined ? [r.id] : [r.group].flat();
    return groups.some((g) => unit(`valid:${g}`) < 1 / 7);
  };
  const heldIn = extended.filter((r) => !heldOut(r));
  // Twins are made of training records only, after the split, so validation is unchanged.
  const train = values["clean-twins"]
    ? dedupe([...heldIn, ...cleanTwins(heldIn, await wikiSentences(clones))])
      .filter((r) => !evalTexts.has(key(r)))
    : heldIn;
  const valid = extended.filter(heldOut);

  await Deno.writeTextFile(`${values.out}/train.jsonl`, toJsonl(train));
  await Deno.writeTextFile(`${values.out}/valid.jsonl`, toJsonl(valid));
  // A source no model trains on, for direct detection on unseen phrasing (as the public set's).
  const promptmapAll = await promptmapRecords(clones);
  const promptmap = promptmapAll.filter((r) => !leaking(r));
  await Deno.writeTextFile(`${values.out}/valid_direct_heldout.jsonl`, toJsonl(promptmap));
  // Real user prompts no model trains on, for over-defense (all benign).
  await Deno.writeTextFile(
    `${values.out}/valid_real_prompts.jsonl`,
    toJsonl(arena.filter((r) => !evalTexts.has(key(r)))),
  );
  console.log(
    `new direct sources: ${newDirect.length} of ${newAll.length} training attacks kept, ${counterparts.length} of ${counterpartsAll.length} benign counterparts kept, promptmap ${promptmap.length} of ${promptmapAll.length} kept, real prompts ${realPromptsKept.length} of ${realPromptsAll.length} kept (the rest are near-duplicates of evaluation texts)`,
  );
  const count = (rs: CorpusRecord[]) => {
    const by: Record<string, number> = {};
    for (const r of rs) by[r.category] = (by[r.category] ?? 0) + 1;
    return JSON.stringify(by);
  };
  console.log(`train ${train.length} ${count(train)}`);
  console.log(`valid ${valid.length} ${count(valid)}`);
  console.log(
    `eval ${disjoint.length} ${count(disjoint)} (${
      evaluation.length - disjoint.length
    } dropped as seen in training)`,
  );
}

if (import.meta.main) await main();
