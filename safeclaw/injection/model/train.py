#!/usr/bin/python3
"""Trains the prompt-injection classifier and exports it to ONNX.

    python3 safeclaw/injection/model/train.py TRAIN.features.jsonl VALID.features.jsonl OUT_DIR
    python3 safeclaw/injection/model/train.py --short TRAIN VALID OUT_DIR   # the short-text model
    python3 safeclaw/injection/model/train.py --balance-layouts TRAIN VALID OUT_DIR
    python3 safeclaw/injection/model/train.py --document TRAIN VALID OUT_DIR  # an experiment
    python3 safeclaw/injection/model/train.py --words VECTORS_DIR TRAIN VALID OUT_DIR
    python3 safeclaw/injection/model/train.py --short --words VECTORS_DIR TRAIN VALID OUT_DIR

`--words` adds the word channel: the pretrained vectors `word_vectors.ts` wrote to VECTORS_DIR
(frozen) read through a learned projection, beside the hashed features; the exported file holds
each word's projected vector; the input must come from `featurize.ts --words VECTORS_DIR/words.txt`.
`--word-dim N` sets the channel's width (default 32; 16 with `--short`), to measure another.

`ensemble.py` averages models trained here from several seeds (`--seed`) into one file whose
lookup tables are stored in float16 (`halve_tables`, `SeedEnsemble`, `load_exported`).

`--balance-layouts` makes the clean and the attacked documents of each layout weigh the same;
`--document` trains the narrower, layout-balanced model chosen on untrusted content alone that the
model card's scoring 14 tried beside the main one (not shipped: see MODEL_CARD.md).

Input lines come from featurize.ts: {"label", "category", "windows": [[feature ids], ...]}.
The model is fastText-like: a hashed-feature embedding table, mean- and max-pooled over a
window, then a small MLP. A text is an injection when its most suspicious window is, so a
payload buried in a long e-mail is not averaged away. Runs on CPU (Debian's python3-torch);
a few minutes on two cores. The decision threshold is chosen on the validation split only.
"""
import argparse
import copy
import json
import random

import numpy as np
import torch
from torch import nn

BUCKETS = 1 << 16
DIM = 32
HIDDEN = 64
EPOCHS = 12
BATCH = 64
SEED = 7
# Share of feature ids hidden from each training window: without it one strong feature ("home",
# "output") decides a short text on its own; with it the model has to learn from several.
FEATURE_DROPOUT = 0.2
# The short-text model (`--short`, built from build_short_corpus.ts's splits): narrower, more of
# its few features hidden in training, and trained towards 0.05/0.95 instead of 0/1 (label
# smoothing), so that no handful of words drives it to certainty.
SHORT = {"name": "short_classifier", "dim": 16, "hidden": 32, "dropout": 0.3, "smoothing": 0.05,
         "epochs": 20, "word_dim": 16}
# The document model (`--document`, an experiment, not shipped): narrower, trained with the clean
# and the attacked records of each document layout weighing the same (see balance_layouts), and
# its epoch and threshold chosen on the validation split's untrusted content (documents, e-mails,
# web pages, tool results) alone, the only text it was to be asked about.
DOCUMENT = {"name": "document_classifier", "dim": 24, "hidden": 48, "dropout": FEATURE_DROPOUT,
            "smoothing": 0.0, "epochs": EPOCHS}


# Width of the word channel's projection of the 100-dimensional pretrained vectors (the short
# model's is narrower, as its hashed channel is: SHORT["word_dim"]).
WORD_DIM = 32


def pool(vectors, mask, empty_as_zero=False):
    """Mean and max of the vectors a mask keeps (vectors: [windows, length, dim])."""
    weights = mask.unsqueeze(-1)
    mean = (vectors * weights).sum(1) / weights.sum(1).clamp(min=1.0)
    # Padding must never win the max, so it is pushed far below any real value.
    peak = (vectors + (weights - 1.0) * 1e4).max(1).values
    if empty_as_zero:
        # A window with no known word is common in the word channel; it pools to zeros, not -1e4.
        peak = peak * (weights.sum(1) > 0).float()
    return mean, peak


class InjectionClassifier(nn.Module):
    def __init__(self, dim=DIM, hidden=HIDDEN, word_vectors=None, word_dim=WORD_DIM):
        super().__init__()
        self.embedding = nn.Embedding(BUCKETS + 1, dim, padding_idx=0)
        inputs = 2 * dim + 1
        self.words = word_vectors is not None
        if self.words:
            # Frozen: words training never saw keep their place beside their synonyms, so a
            # paraphrase of an attack shares the evidence the attack's own words earned. Row 0 is
            # padding. Kept as float16: half the memory, and its three significant digits are far
            # finer than what sets two words apart.
            table = torch.cat([torch.zeros(1, word_vectors.shape[1]), word_vectors]).half()
            self.register_buffer("word_table", table)
            self.word_projection = nn.Linear(word_vectors.shape[1], word_dim)
            inputs += 2 * word_dim
        # The pooled vectors plus how many features the window has: a window of three features
        # carries far less evidence than one of three hundred, and the model must know which.
        self.mlp = nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, ids, mask, words=None, word_mask=None):
        # ids: [windows, length] int64; mask: [windows, length] float32 (1 for a feature, 0 for padding)
        if hasattr(self, "hashed_table"):
            # Tables stored as float16 (halve_tables): each looked-up row is cast back to float32,
            # so only the storage is halved, not the arithmetic.
            hashed = nn.functional.embedding(ids, self.hashed_table).float()
        else:
            hashed = self.embedding(ids)
        mean, peak = pool(hashed, mask)
        size = torch.log1p(mask.sum(1)).unsqueeze(-1) / 6.0
        parts = [mean, peak, size]
        if self.words:
            if hasattr(self, "projected_words"):
                vectors = nn.functional.embedding(words, self.projected_words).float()
            else:
                vectors = self.word_projection(nn.functional.embedding(words, self.word_table).float())
            parts.extend(pool(vectors, word_mask, empty_as_zero=True))
        return torch.sigmoid(self.mlp(torch.cat(parts, dim=1)).squeeze(-1))


def fold_word_projection(model):
    """Replaces the frozen table and its learned projection by their product before export.

    The projection is linear and the table does not change after training, so each word's
    projected vector can be computed once: the exported file holds a [words, word_dim] float32 table
    (2.6 MB for 20,000 words at 32 dimensions, against 4 MB for the float16 vectors) and inference
    skips a matrix product per word.
    """
    with torch.no_grad():
        projected = model.word_projection(model.word_table.float())
    model.register_buffer("projected_words", projected)
    del model.word_table
    del model.word_projection


def halve_tables(model):
    """Stores the model's two lookup tables (the hashed features', the folded words') in float16.

    They are almost all of the exported file; float16 keeps three significant digits, far finer
    than what the model's decisions turn on, and the exported graph casts each looked-up row back
    to float32 (a Gather, then a Cast), so the rest of the model computes as before. Halving them
    is what lets several seeds' models be averaged within the issue's 20 MB.
    """
    with torch.no_grad():
        model.register_buffer("hashed_table", model.embedding.weight.detach().half())
        if hasattr(model, "projected_words"):
            model.projected_words = model.projected_words.half()
    del model.embedding


class SeedEnsemble(nn.Module):
    """The mean of several models' window scores: models trained from different seeds err apart."""

    def __init__(self, members):
        super().__init__()
        self.members = nn.ModuleList(members)
        self.words = members[0].words

    def forward(self, *inputs):
        return torch.stack([member(*inputs) for member in self.members]).mean(0)


def load_exported(directory, name="classifier"):
    """A model `export` wrote (float32 tables), rebuilt in torch from its ONNX file."""
    import onnx
    from onnx import numpy_helper

    with open(f"{directory}/{name}.json") as f:
        manifest = json.load(f)
    weights = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy())
               for i in onnx.load(f"{directory}/{name}.onnx").graph.initializer}
    words = weights.get("projected_words")
    # The pretrained vectors are gone from the file (folded into projected_words), so the model is
    # built with placeholders of the right shape, folded, and then given the exported weights.
    placeholder = torch.zeros(words.shape[0] - 1, 1) if words is not None else None
    model = InjectionClassifier(manifest["dim"], manifest["hidden"], placeholder,
                                manifest.get("word_dim", WORD_DIM))
    if words is not None:
        fold_word_projection(model)
    model.load_state_dict(weights)
    model.eval()
    return model, manifest


def export(model, path, words):
    """Writes the model as ONNX: ids and mask in (plus words and word_mask with a word channel)."""
    example = (torch.zeros(2, 8, dtype=torch.long), torch.ones(2, 8))
    names = ["ids", "mask"]
    axes = {"ids": {0: "windows", 1: "length"}, "mask": {0: "windows", 1: "length"}}
    if words:
        example += (torch.ones(2, 4, dtype=torch.long), torch.ones(2, 4))
        names += ["words", "word_mask"]
        axes.update({"words": {0: "windows", 1: "word_length"},
                     "word_mask": {0: "windows", 1: "word_length"}})
    torch.onnx.export(
        model, example, path,
        input_names=names, output_names=["score"],
        dynamic_axes={**axes, "score": {0: "windows"}},
        opset_version=13,
    )


def load_word_vectors(directory):
    """The vectors `word_vectors.ts` wrote: float32 rows in the order of words.txt."""
    with open(f"{directory}/words.txt") as f:
        words = [w for w in f.read().split("\n") if w]
    values = np.fromfile(f"{directory}/vectors.f32", dtype="<f4")
    return words, torch.from_numpy(values.reshape(len(words), -1).copy())


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def padded(windows):
    """Ids and mask of a list of id lists (an empty list becomes one padding id)."""
    windows = [w or [0] for w in windows]
    length = max(len(w) for w in windows)
    ids = torch.zeros(len(windows), length, dtype=torch.long)
    mask = torch.zeros(len(windows), length)
    for j, w in enumerate(windows):
        ids[j, : len(w)] = torch.tensor(w, dtype=torch.long)
        mask[j, : len(w)] = 1.0 if w != [0] else 0.0
    return ids, mask


def batch_tensors(records, words=False):
    windows, word_windows, owners = [], [], []
    for i, r in enumerate(records):
        windows.extend(r["windows"])
        if words:
            word_windows.extend(r["words"])
        owners.extend([i] * len(r["windows"]))
    inputs = [*padded(windows)]
    if words:
        inputs.extend(padded(word_windows))
    return inputs, torch.tensor(owners, dtype=torch.long)


def record_scores(model, records, dropout=0.0):
    inputs, owners = batch_tensors(records, model.words)
    if dropout:
        # Each channel loses the same share of its inputs at random.
        for k in range(1, len(inputs), 2):
            inputs[k] = inputs[k] * (torch.rand(inputs[k].shape) >= dropout).float()
    window_scores = model(*inputs)
    scores = torch.zeros(len(records))
    return scores.scatter_reduce(0, owners, window_scores, reduce="amax", include_self=False)


def predict(model, records):
    model.eval()
    out = []
    with torch.no_grad():
        for k in range(0, len(records), 256):
            out.extend(record_scores(model, records[k : k + 256]).tolist())
    return out


def balanced_accuracy(scores, records, threshold):
    attacks = [s for s, r in zip(scores, records) if r["label"] == 1]
    benign = [s for s, r in zip(scores, records) if r["label"] == 0]
    tpr = sum(s >= threshold for s in attacks) / max(1, len(attacks))
    tnr = sum(s < threshold for s in benign) / max(1, len(benign))
    return (tpr + tnr) / 2


def best_threshold(scores, records):
    """The threshold with the best balanced accuracy that flags at most 5% of hard benign text."""
    hard = [s for s, r in zip(scores, records) if r["category"] == "hard_benign"]
    best = (0.0, 0.5)
    for step in range(5, 100):
        t = step / 100
        # Over-defense is a failure too: a threshold that flags over 5% of hard benign text is out.
        if sum(s >= t for s in hard) > 0.05 * max(1, len(hard)):
            continue
        ba = balanced_accuracy(scores, records, t)
        if ba > best[0]:
            best = (ba, t)
    return best


def balance_layouts(records, weight):
    """Makes the clean and the attacked records of each layout weigh the same in the loss.

    Attacks are few and benign text is plenty, so the class weights lift every attack well above
    a clean record; where one kind of document (an e-mail, a table) is mostly seen attacked, the
    model then learns "an e-mail is an attack" instead of what the attack says. Within a layout,
    each label gets half of the layout's weight, so the layout alone carries no signal; the
    layout's share of the whole loss stays what it was. Records with no layout are left alone.
    """
    totals = {}
    for r in records:
        layout = r.get("layout")
        if layout:
            side = totals.setdefault(layout, [0.0, 0.0])
            side[r["label"]] += weight[r["label"]] * r.get("weight", 1)
    for r in records:
        side = totals.get(r.get("layout"))
        if side and side[0] and side[1]:
            r["layout_weight"] = (side[0] + side[1]) / (2 * side[r["label"]])
    for layout, (clean, attacked) in sorted(totals.items()):
        print(f"layout {layout}: clean weight {clean:.0f}, attacked weight {attacked:.0f}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("train_path")
    parser.add_argument("valid_path")
    parser.add_argument("out_dir")
    parser.add_argument("--short", action="store_true")
    parser.add_argument("--document", action="store_true")
    parser.add_argument("--balance-layouts", action="store_true")
    parser.add_argument("--words", metavar="VECTORS_DIR")
    # The word channel's width, to measure another against the default (WORD_DIM, SHORT's for --short).
    parser.add_argument("--word-dim", type=int)
    # Another seed measures how far a retraining alone moves the figures (the shipped models: 7).
    parser.add_argument("--seed", type=int, default=SEED)
    # Once a model's epochs and threshold are chosen on validation, a refit trains on training and
    # validation together with both fixed (read from that model's JSON): more data, nothing chosen
    # on data the model has seen. It is judged on the sets no model trains on (`dev_eval.ts`).
    parser.add_argument("--refit", metavar="CHOSEN_JSON")
    args = parser.parse_args()
    train_path, valid_path, out_dir = args.train_path, args.valid_path, args.out_dir
    name, dim, hidden, dropout, smoothing, epochs = "classifier", DIM, HIDDEN, FEATURE_DROPOUT, 0.0, EPOCHS
    word_dim = WORD_DIM
    if args.short:
        name, dim, hidden, word_dim = SHORT["name"], SHORT["dim"], SHORT["hidden"], SHORT["word_dim"]
        dropout, smoothing, epochs = SHORT["dropout"], SHORT["smoothing"], SHORT["epochs"]
    if args.document:
        name, dim, hidden = DOCUMENT["name"], DOCUMENT["dim"], DOCUMENT["hidden"]
        dropout, smoothing, epochs = DOCUMENT["dropout"], DOCUMENT["smoothing"], DOCUMENT["epochs"]
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    train, valid = load(train_path), load(valid_path)
    chosen = None
    if args.refit:
        with open(args.refit) as f:
            chosen = json.load(f)
        epochs, train = chosen["epochs"], train + valid
    if args.document:
        valid = [r for r in valid if r.get("source", "user") != "user"]
    positives = sum(r.get("weight", 1) for r in train if r["label"] == 1)
    negatives = sum(r.get("weight", 1) for r in train if r["label"] == 0)
    # Attacks and benign text weigh the same in the loss, whatever their counts.
    weight = {1: (positives + negatives) / (2 * positives), 0: (positives + negatives) / (2 * negatives)}
    if args.balance_layouts or args.document:
        balance_layouts(train, weight)
    vocabulary, word_vectors = load_word_vectors(args.words) if args.words else (None, None)
    word_dim = args.word_dim or word_dim
    model = InjectionClassifier(dim, hidden, word_vectors, word_dim)
    best, state = (-1.0, 0.5, 0), None
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    for epoch in range(epochs):
        model.train()
        random.shuffle(train)
        total = 0.0
        for k in range(0, len(train), BATCH):
            chunk = train[k : k + BATCH]
            scores = record_scores(model, chunk, dropout).clamp(1e-6, 1 - 1e-6)
            labels = torch.tensor([float(r["label"]) for r in chunk]) * (1 - 2 * smoothing) + smoothing
            weights = torch.tensor([weight[r["label"]] * r.get("weight", 1) * r.get("layout_weight", 1)
                                    for r in chunk])
            loss = nn.functional.binary_cross_entropy(scores, labels, weight=weights)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(chunk)
        if chosen:
            print(f"epoch {epoch + 1}: loss {total / len(train):.4f} (refit: not validated)")
            best, state = (-1.0, chosen["threshold"], epoch + 1), model.state_dict()
            continue
        valid_scores = predict(model, valid)
        ba, threshold = best_threshold(valid_scores, valid)
        print(f"epoch {epoch + 1}: loss {total / len(train):.4f}, "
              f"valid balanced accuracy {ba:.4f} at threshold {threshold:.2f}")
        # The epoch that validates best is kept: later ones only fit the training set harder.
        if ba > best[0]:
            best = (ba, threshold, epoch + 1)
            state = copy.deepcopy(model.state_dict())

    model.load_state_dict(state)
    print(f"kept epoch {best[2]}: threshold {best[1]:.2f}"
          + (" (refit)" if chosen else f", valid balanced accuracy {best[0]:.4f}"))

    model.eval()
    if model.words:
        fold_word_projection(model)
        with open(f"{out_dir}/{name}.words.txt", "w") as f:
            f.write("\n".join(vocabulary) + "\n")
    export(model, f"{out_dir}/{name}.onnx", model.words)
    with open(f"{out_dir}/{name}.json", "w") as f:
        json.dump({
            "buckets": BUCKETS, "dim": dim, "hidden": hidden, "epochs": best[2], "seed": args.seed,
            "feature_dropout": dropout, **({"label_smoothing": smoothing} if smoothing else {}),
            "threshold": best[1],
            **({"refit": True} if chosen else {"valid_balanced_accuracy": round(best[0], 4)}),
            "train_records": len(train), "valid_records": 0 if chosen else len(valid),
            **({"words": f"{name}.words.txt", "word_dim": word_dim} if args.words else {}),
        }, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
