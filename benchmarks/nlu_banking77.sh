#!/usr/bin/env bash
# Built-in NLU on BANKING77 (Casanueva et al. 2020, "Efficient Intent Detection with Dual
# Sentence Encoders", CC BY 4.0; data is read from ../shared, never copied into the repo).
#
# Prints one JSON line per protocol:
#   1. closed set: train.csv -> test.csv;
#   2. out-of-scope: 10 intents held out of training (seed 0), their test rows are OOS;
#      fallback threshold tuned by cross-validation on the training CSV only
#      (objective: in-scope accuracy + OOS recall);
#   3. as 2, threshold tuned for simulated in-scope accuracy >= 0.90.
# Usage: benchmarks/nlu_banking77.sh [DATA_DIR] [extra nlu-eval args, e.g. --backend rasa --rasa-url URL]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
data="${1:-$here/../shared/data/banking77}"
shift || true
py="${PYTHON:-$here/.venv/bin/python}"
echo "# BANKING77 (Casanueva et al. 2020, CC BY 4.0) from $data on $(nproc) cores" >&2
cd "$here"
"$py" -m bot.nlu_eval --train "$data/train.csv" --test "$data/test.csv" "$@"
"$py" -m bot.nlu_eval --train "$data/train.csv" --test "$data/test.csv" --holdout-intents 10 --seed 0 "$@"
"$py" -m bot.nlu_eval --train "$data/train.csv" --test "$data/test.csv" --holdout-intents 10 --seed 0 \
    --min-in-scope-accuracy 0.90 "$@"
