#!/usr/bin/python3
"""Averages models `train.py` trained from different seeds into one ONNX file, tables in float16.

    python3 safeclaw/injection/model/ensemble.py --valid VALID.features.jsonl --out OUT_DIR \\
        MEMBER_DIR [MEMBER_DIR ...]
    python3 safeclaw/injection/model/ensemble.py --name short_classifier --valid VALID --out OUT_DIR DIR

Each MEMBER_DIR holds a `train.py` export (`classifier.onnx`, `classifier.json` and, with a word
channel, `classifier.words.txt`; `--name short_classifier` for the short-text model), trained on
the same split with the same vocabulary. The output reads the same inputs and gives one score per
window, the mean of the members' scores, so `../classifier.ts` runs it as it runs one model. Its
two lookup tables are stored in float16 and cast back to float32 after each lookup
(`train.halve_tables`), which halves the file: three main models fit in the 20 MB one took 11.

The threshold is chosen again, on VALID (the members' validation split), by the rule `train.py`
uses for one model; the members' own thresholds say little about their mean. One member alone
gives that model with float16 tables. The script prints the largest difference between the
float16 file's scores and the float32 members' mean on VALID.
"""
import argparse
import json
import shutil

import torch

from train import SeedEnsemble, best_threshold, export, halve_tables, load, load_exported, predict


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("members", nargs="+", metavar="MEMBER_DIR")
    parser.add_argument("--valid", required=True, metavar="VALID.features.jsonl")
    parser.add_argument("--out", required=True, metavar="OUT_DIR")
    parser.add_argument("--name", default="classifier")
    args = parser.parse_args()
    torch.set_num_threads(1)
    loaded = [load_exported(d, args.name) for d in args.members]
    models = [model for model, _ in loaded]
    manifests = [manifest for _, manifest in loaded]
    for key in ("buckets", "dim", "hidden", "words", "word_dim"):
        if len({json.dumps(m.get(key)) for m in manifests}) > 1:
            raise SystemExit(f"the members differ in {key}: they cannot be averaged")
    if manifests[0].get("words"):
        vocabularies = {open(f"{d}/{manifests[0]['words']}").read() for d in args.members}
        if len(vocabularies) > 1:
            raise SystemExit("the members were trained with different vocabularies")

    valid = load(args.valid)
    full = predict(SeedEnsemble(models), valid)
    for model in models:
        halve_tables(model)
    ensemble = SeedEnsemble(models)
    scores = predict(ensemble, valid)
    drift = max(abs(a - b) for a, b in zip(full, scores))
    accuracy, threshold = best_threshold(scores, valid)
    print(f"{len(models)} member(s): threshold {threshold:.2f}, valid balanced accuracy "
          f"{accuracy:.4f}; float16 tables move a score by at most {drift:.2e}")

    export(ensemble, f"{args.out}/{args.name}.onnx", ensemble.words)
    first = manifests[0]
    manifest = {
        "buckets": first["buckets"], "dim": first["dim"], "hidden": first["hidden"],
        "tables": "float16",
        "members": [{k: m[k] for k in ("seed", "epochs", "threshold", "valid_balanced_accuracy")}
                    for m in manifests],
        "threshold": threshold, "valid_balanced_accuracy": round(accuracy, 4),
        "valid_records": len(valid),
        **({"label_smoothing": first["label_smoothing"]} if "label_smoothing" in first else {}),
        **({"words": first["words"], "word_dim": first["word_dim"]} if first.get("words") else {}),
    }
    with open(f"{args.out}/{args.name}.json", "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    if first.get("words"):
        shutil.copyfile(f"{args.members[0]}/{first['words']}", f"{args.out}/{first['words']}")


if __name__ == "__main__":
    main()
