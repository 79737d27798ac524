#!/bin/sh
# Builds power's default model from scratch and writes it to power/model/default.
#
#   power/training/build.sh            # the whole pipeline (corpus .. export .. checks)
#   STEPS=300 power/training/build.sh  # a shorter training run
#   AGENT_STEPS=0 power/training/build.sh  # skip the agent fine-tuning phase
#
# Needs Debian bookworm's python3-torch, python3-onnx and python3-numpy (run with /usr/bin/python3),
# the documentation packages listed in README.md, and deno for the checks. Training resumes from
# build/checkpoint.pt when it exists, so an interrupted run can be restarted with the same command.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD="$HERE/build"
OUT="${OUT:-$ROOT/power/model/default}"
PYTHON="${PYTHON:-/usr/bin/python3}"
STEPS="${STEPS:-6350}"
CHAT_FRACTION="${CHAT_FRACTION:-0.75}"
THREADS="${THREADS:-2}"
AGENT_STEPS="${AGENT_STEPS:-900}"
MODEL_CONFIG='{"hidden_size": 192, "intermediate_size": 512, "num_hidden_layers": 4, "num_attention_heads": 3, "num_key_value_heads": 3}'

mkdir -p "$BUILD"
cd "$HERE"

echo "== corpus"
"$PYTHON" corpus.py --out "$BUILD/corpus.txt"
echo "== dialogues"
"$PYTHON" dialogues.py --corpus "$BUILD/corpus.txt" --out "$BUILD/dialogues.txt" --count 60000 --seed 1234
echo "== agent dialogues (the code agent's real prompt, tool schemas and tool results)"
(cd "$ROOT" && deno run -A power/training/agent_dialogues.ts --out "$BUILD/agent_dialogues.txt" \
  --count 6000 --seed 77 --corpus "$BUILD/corpus.txt")
echo "== tokenizer"
"$PYTHON" bpe.py --input "$BUILD/corpus.txt" "$BUILD/dialogues.txt" --chars-per-input 3000000 \
  --vocab-size 6144 --out "$BUILD/tokenizer.json"
echo "== token ids"
"$PYTHON" prepare.py --tokenizer "$BUILD/tokenizer.json" --corpus "$BUILD/corpus.txt" \
  --dialogues "$BUILD/dialogues.txt" --agent-dialogues "$BUILD/agent_dialogues.txt" \
  --out-dir "$BUILD"
echo "== training ($STEPS steps)"
"$PYTHON" train.py --data-dir "$BUILD" --checkpoint "$BUILD/checkpoint.pt" --steps "$STEPS" \
  --batch-size 8 --seq-len 384 --lr 3e-3 --warmup 30 --save-every 10 --threads "$THREADS" \
  --chat-fraction "$CHAT_FRACTION" \
  --config "$MODEL_CONFIG" | tee -a "$BUILD/train.log"
FINAL="$BUILD/checkpoint.pt"
if [ "$AGENT_STEPS" -gt 0 ]; then
  echo "== agent fine-tuning ($AGENT_STEPS steps, context 2,048)"
  # From the base weights with a fresh optimizer: agent steps learn the agent's turns after its
  # shared prompt, mixed steps keep chat and prose, long steps train positions up to 2,048.
  "$PYTHON" train.py --data-dir "$BUILD" --checkpoint "$BUILD/agent_checkpoint.pt" \
    --init "$BUILD/checkpoint.pt" --config '{"max_position_embeddings": 2048}' \
    --steps "$AGENT_STEPS" --batch-size 4 --seq-len 512 --chat-fraction 0.75 \
    --cycle agent,mixed,agent,mixed,agent,mixed,agent,long --agent-rows 16 \
    --agent-suffix-len 128 --long-seq-len 2048 --lr 1e-3 --warmup 10 --save-every 5 \
    --threads "$THREADS" --seed 2048 | tee -a "$BUILD/train.log"
  FINAL="$BUILD/agent_checkpoint.pt"
fi
echo "== evaluation"
"$PYTHON" evaluate.py --data-dir "$BUILD" --checkpoint "$FINAL" --threads "$THREADS"
"$PYTHON" tool_eval.py --checkpoint "$FINAL" --tokenizer "$BUILD/tokenizer.json" \
  --threads "$THREADS"
echo "== export"
"$PYTHON" export.py --checkpoint "$FINAL" --tokenizer "$BUILD/tokenizer.json" \
  --template chat_template.jinja --out-dir "$OUT" --reference "$BUILD/reference.json"
"$PYTHON" cases.py --tokenizer "$BUILD/tokenizer.json" --out "$BUILD/cases.json"
echo "== checks"
cd "$ROOT"
deno run -A power/training/verify_onnx.ts "$OUT" "$BUILD/reference.json"
deno run -A power/training/verify_tokenizer.ts "$OUT" "$BUILD/cases.json"
deno run -A --no-lock power/training/verify_transformers.ts "$OUT"
deno run -A power/training/samples.ts "$OUT"
du -b "$OUT"/*.json "$OUT"/onnx/*
