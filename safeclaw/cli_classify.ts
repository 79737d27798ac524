/** `a3s safeclaw classify`: the level, action and findings of one text under a policy. */
import { fileReadError, outputFormat, parseCommand, renderTable, UsageError } from "@a3s/common";
import { createClassifier } from "./classify.ts";
import { CLASSIFY_HELP } from "./cli_help.ts";
import { levelOf, loadPolicyFile, parsePolicy, policyAction } from "./policy.ts";
import { detectTee } from "./tee.ts";
import { atLeast, type Level, maxLevel } from "./privacy/levels.ts";
import { readInput } from "./_input.ts";

/** Runs `a3s safeclaw classify`. */
export async function classifyCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(args, {
    file: { type: "string", short: "f" },
    policy: { type: "string" },
    format: { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(CLASSIFY_HELP);
    return 0;
  }
  if (positionals.length) throw new UsageError(`classify takes no arguments; use --file`);
  // One text's findings: JSON unless a table is asked for.
  const format = values.format === undefined && !values.json ? "json" : outputFormat(values);
  const policyPath = values.policy as string | undefined;
  let policy;
  try {
    policy = policyPath ? await loadPolicyFile(policyPath) : parsePolicy({});
  } catch (error) {
    throw fileReadError(error, policyPath!);
  }
  const text = await readInput(values.file as string | undefined);
  const classifier = createClassifier({ minConfidence: policy.minConfidence });
  const findings = classifier.classify(text).findings;
  classifier.free();
  let level: Level = "Normal";
  for (const f of findings) level = maxLevel(level, levelOf(policy, f.type));
  const { action, teeRefusal } = policyAction(policy, level, detectTee());
  const result = {
    level,
    action,
    ...(teeRefusal ? { reason: teeRefusal } : {}),
    localOnly: action === "local_only" || atLeast(level, policy.localOnlyAt),
    findings: findings.map((f) => ({
      ...f,
      level: levelOf(policy, f.type),
      value: text.slice(f.start, f.end),
    })),
  };
  if (format === "json") {
    console.log(JSON.stringify(result));
    return 0;
  }
  console.log(`level: ${level}   action: ${action}   local only: ${result.localOnly}`);
  if (teeRefusal) console.log(teeRefusal);
  console.log(renderTable(
    ["TYPE", "LEVEL", "START", "END", "CONFIDENCE"],
    result.findings.map((
      f,
    ) => [f.type, f.level, String(f.start), String(f.end), f.confidence.toFixed(2)]),
  ));
  return 0;
}
