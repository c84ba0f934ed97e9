"""`switchboard kb-eval`: how often help-center search puts the right article first / in the top 3.

With no argument it uses the project's own evaluation set (bot/kb/evalset: 47 articles of the
demo shop, 232 customer questions); `--articles DIR` (Markdown files with a YAML front matter)
and `--questions CSV` (`question,slug`) evaluate other files. Prints one JSON line: `articles`,
`questions`, `tier`, `top1`, `top3`, `mrr`, `seconds`; `--misses` adds the questions whose article
was not ranked first.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def add_arguments(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("kb-eval", help="help-center retrieval accuracy (top-1/top-3) on an evaluation set")
    parser.add_argument("--articles", type=Path, help="directory of articles (*.md with front matter); "
                                                      "default the project's evaluation set")
    parser.add_argument("--questions", type=Path, help="CSV with the columns question,slug; default the project's")
    parser.add_argument("--tier", choices=("bm25", "hybrid"), default="bm25",
                        help="bm25 (default) or hybrid: BM25 plus MiniLM embeddings (needs .[embeddings])")
    parser.add_argument("--misses", action="store_true", help="also list the questions not ranked first")


def run(args: argparse.Namespace) -> int:
    from bot.kb.evaluation import run as evaluate

    encoder: Any = None
    if args.tier == "hybrid":
        from bot.nlu.embeddings import EmbeddingsUnavailable, MiniLMEncoder

        encoder = MiniLMEncoder()
        try:
            encoder.encode(["warm-up"])
        except EmbeddingsUnavailable as exc:
            print(f"switchboard: {exc}", file=sys.stderr)
            return 2
    for path in (args.articles, args.questions):
        if path is not None and not path.exists():
            print(f"switchboard: {path} does not exist", file=sys.stderr)
            return 2
    try:
        report = evaluate(args.articles, args.questions, encoder=encoder)
    except (KeyError, ValueError) as exc:
        print(f"switchboard: cannot read the evaluation set ({exc})", file=sys.stderr)
        return 2
    misses = report.pop("misses")
    if args.misses:
        report["misses"] = misses
    print(json.dumps(report))
    return 0
