/**
 * `ensemble.py`'s file, run the way safeclaw runs models (onnxruntime-node through
 * `../classifier.ts`): its lookup tables in float16, cast back after each lookup, must score as the
 * float32 model does. It needs the training tooling (Debian's python3-torch and python3-onnx);
 * without it the test is ignored.
 */
import { assert, assertEquals } from "@a3s/common/testing";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { openInjectionClassifier } from "../classifier.ts";
import { parseEvalSet } from "../evaluate.ts";
import { canonical, views } from "../normalize.ts";
import { featureWindows, parseVocabulary, wordWindows } from "./features.ts";

const PYTHON = "/usr/bin/python3";
const MODEL_DIR = fileURLToPath(new URL("./", import.meta.url));

async function trainingToolsInstalled(): Promise<boolean> {
  try {
    const probe = new Deno.Command(PYTHON, {
      args: ["-c", "import torch, onnx"],
      stdout: "null",
      stderr: "null",
    });
    return (await probe.output()).success;
  } catch {
    return false;
  }
}

Deno.test({
  name: "ensemble.py: the shipped model with float16 tables scores as the float32 one does",
  ignore: !(await trainingToolsInstalled()),
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "a3s-ensemble-" });
    try {
      const records = parseEvalSet(
        await Deno.readTextFile(new URL("../../testdata/injection_eval.jsonl", import.meta.url)),
      );
      const vocabulary = parseVocabulary(
        await Deno.readTextFile(new URL("./classifier.words.txt", import.meta.url)),
      );
      // The validation input ensemble.py chooses its threshold on, written as featurize.ts does.
      const features = records.map((r) => {
        const text = canonical(r.text);
        return JSON.stringify({
          id: r.id,
          label: r.label,
          category: r.category,
          windows: featureWindows(text),
          words: wordWindows(text, vocabulary),
        });
      });
      await Deno.writeTextFile(join(dir, "valid.jsonl"), features.join("\n") + "\n");
      const run = await new Deno.Command(PYTHON, {
        args: [
          join(MODEL_DIR, "ensemble.py"),
          "--valid",
          join(dir, "valid.jsonl"),
          "--out",
          dir,
          MODEL_DIR,
        ],
        env: { OMP_NUM_THREADS: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert(run.success, new TextDecoder().decode(run.stderr).slice(-2000));

      const shipped = await openInjectionClassifier(
        join(MODEL_DIR, "classifier.onnx"),
        join(MODEL_DIR, "classifier.json"),
      );
      const halved = await openInjectionClassifier(
        join(dir, "classifier.onnx"),
        join(dir, "classifier.json"),
      );
      // What ensemble.py writes beside the file: its tables' precision and its members' seeds.
      const written = JSON.parse(await Deno.readTextFile(join(dir, "classifier.json"))) as {
        tables: string;
        members: { seed: number }[];
      };
      const shippedSeed = (JSON.parse(
        await Deno.readTextFile(join(MODEL_DIR, "classifier.json")),
      ) as { seed: number }).seed;
      assertEquals(written.tables, "float16");
      assertEquals(written.members.map((m) => m.seed), [shippedSeed]);
      assertEquals(halved.manifest.words, "classifier.words.txt");
      // The tables are almost all of the file, so it is about half the size.
      const size = async (path: string) => (await Deno.stat(path)).size;
      assert(
        await size(join(dir, "classifier.onnx")) <
          0.55 * await size(join(MODEL_DIR, "classifier.onnx")),
        "the float16 file is not half the size",
      );

      const textViews = records.map((r) => views(r.text));
      const [before, after] = [
        await shipped.scoreMany(textViews),
        await halved.scoreMany(textViews),
      ];
      const threshold = shipped.manifest.threshold;
      for (const [i, r] of records.entries()) {
        assert(
          Math.abs(before[i] - after[i]) <= 1e-3,
          `${r.id}: ${before[i]} against ${after[i]}`,
        );
        assertEquals(after[i] >= threshold, before[i] >= threshold, r.id);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
