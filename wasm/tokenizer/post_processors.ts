/** Hugging Face post-processors: the BOS/EOS templates wrapped around a single sequence. */
import { A3sError } from "@a3s/common/errors";

type Config = Record<string, unknown>;

/** Wraps encoded ids; `add` false leaves them as they are. */
export type PostProcessor = (ids: Uint32Array, add: boolean) => Uint32Array;

function wrap(before: number[], after: number[]): PostProcessor {
  return (ids, add) => {
    if (!add || (before.length === 0 && after.length === 0)) return ids;
    const out = new Uint32Array(before.length + ids.length + after.length);
    out.set(before);
    out.set(ids, before.length);
    out.set(after, before.length + ids.length);
    return out;
  };
}

/** Builds the single-sequence post-processor; `idOf` resolves token strings. */
export function buildPostProcessor(
  config: Config | null | undefined,
  idOf: (token: string) => number | undefined,
): PostProcessor | undefined {
  if (!config) return undefined;
  const resolve = (token: unknown): number => {
    const id = typeof token === "number" ? token : idOf(String(token));
    if (id === undefined) {
      throw new A3sError(
        "unsupported_tokenizer",
        `post-processor token '${token}' is not in the vocabulary`,
        {
          status: 400,
          field: "post_processor",
        },
      );
    }
    return id;
  };
  switch (config.type) {
    case "ByteLevel":
      return undefined;
    case "TemplateProcessing": {
      const before: number[] = [];
      const after: number[] = [];
      let seen = false;
      for (const item of (config.single as Config[]) ?? []) {
        if ("SpecialToken" in item) {
          (seen ? after : before).push(resolve((item.SpecialToken as Config).id));
        } else if ("Sequence" in item) {
          seen = true;
        }
      }
      return wrap(before, after);
    }
    case "BertProcessing":
    case "RobertaProcessing": {
      const cls = (config.cls as [string, number])[1];
      const sep = (config.sep as [string, number])[1];
      return wrap([cls], [sep]);
    }
    case "Sequence": {
      const steps = ((config.processors as Config[]) ?? []).map((c) => buildPostProcessor(c, idOf))
        .filter((p): p is PostProcessor => p !== undefined);
      return (ids, add) => steps.reduce((x, step) => step(x, add), ids);
    }
    default:
      throw new A3sError("unsupported_tokenizer", `unsupported post-processor '${config.type}'`, {
        status: 400,
        field: "post_processor.type",
      });
  }
}
