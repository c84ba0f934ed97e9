"""`ArticleIndex`: which help-center article answers a customer's question.

Lexical tier (always on): Okapi BM25 from `bm25s`, two fields scored apart and added,
``score = title_weight * BM25(title + category) + BM25(body)``, so a question that names
the article's subject outranks one whose words only occur somewhere in a long body. The
ranking adds the best section of the article: ``rank = score + SECTION_WEIGHT * max over
sections BM25(title + section)`` (sections split at Markdown headings), so a question about
one part of a long article is not diluted by the rest of its body.
Tokens: lowercased words normalised by bot.kb.analysis (contractions, irregular verbs,
American spelling), English stop words dropped (scikit-learn's list), Snowball stemming
(PyStemmer), so "refunded", "refunds" and "refunding" all meet "refund", and "bought" meets
"buy". Markdown is rendered to plain text (markdown-it-py) before indexing: link targets,
emphasis marks and table pipes are not words.

Dense tier (optional, `pip install .[embeddings]`): with an `Encoder` (bot.nlu.embeddings),
``hybrid = bm25 / max_bm25 * (1 - dense_weight) + dense_weight * cosine`` over the same
articles; the BM25 part is scaled by the best BM25 score of the query so both halves lie
in [0, 1]. The score a caller thresholds on (`Hit.score`) is always the title-and-body BM25
score, so one `min_score` means the same with or without the dense tier and the section term;
those only reorder.

The snippet is the body sentence sharing the most (idf-weighted) stems with the query.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import bm25s
import numpy as np
import Stemmer
import yaml
from markdown_it import MarkdownIt
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from bot.kb.analysis import word_forms

#: Title (with the category) counts this many times a body match. Measured on the evaluation set
#: (bot/kb/evalset, `switchboard kb-eval`); see docs/bot.md.
TITLE_WEIGHT = 2.0
#: Okapi BM25 parameters (the library's defaults, the usual ones).
K1 = 1.5
B = 0.75
#: The best section's BM25 counts this much in the ranking (not in `Hit.score`). Chosen on the
#: evaluation set by cross-validation (0, 0.5, 1; see docs/bot.md).
SECTION_WEIGHT = 0.5
SNIPPET_CHARS = 220

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_HEADING = re.compile(r"\n(?=#{1,6} )")
_STOP = frozenset(ENGLISH_STOP_WORDS) | {
    "hi", "hello", "hey", "please", "thanks", "thank", "pls", "plz", "im", "ive", "id", "dont", "doesnt", "didnt",
    "cant", "wont", "isnt", "arent", "wasnt", "havent", "youre", "theyre", "thats",
}
#: Query words found through the thesaurus count this much of a word the customer wrote.
EXPANSION_WEIGHT = 0.5
#: A query word unknown to the articles is read as the closest article word at least this similar
#: (difflib ratio; "recieved" -> "received", "cancle" -> "cancel"); words shorter than 4 letters are left alone.
TYPO_CUTOFF = 0.8
PHRASE_SLOP = 2
SYNONYMS = Path(__file__).parent / "synonyms.yml"
_md = MarkdownIt("commonmark").enable("table")


class ArticleLike(Protocol):
    """What the index reads of an article (hub.knowledge.Article has these and more)."""

    @property
    def slug(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def body(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def language(self) -> str: ...


@dataclass(frozen=True)
class Hit:
    article: Any
    #: BM25 score (title and body fields combined); what `min_score` thresholds compare against.
    score: float
    snippet: str
    #: The ranking score: `score` plus SECTION_WEIGHT x the best section with BM25 alone, the hybrid
    #: score with the dense tier.
    rank_score: float = 0.0


def markdown_text(markdown: str) -> str:
    """Plain text of a Markdown body: one line per block, inline marks and link targets dropped."""
    lines: list[str] = []
    for token in _md.parse(markdown or ""):
        if token.type == "inline" and token.children is not None:
            text = "".join(c.content if c.type in ("text", "code_inline") else " " if c.type in (
                "softbreak", "hardbreak") else "" for c in token.children)
            if text.strip():
                lines.append(" ".join(text.split()))
        elif token.type in ("code_block", "fence") and token.content.strip():
            lines.append(" ".join(token.content.split()))
    return "\n".join(lines)


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    return Stemmer.Stemmer("english")


def words(text: str) -> list[str]:
    """Lowercased words, normalised (bot.kb.analysis: "didn't" -> "do not", "bought" -> "buy",
    "color" -> "colour")."""
    return [n for w in _WORD.findall(text.lower().replace("\u2019", "'")) for n in word_forms(w)]


def tokens(text: str) -> list[str]:
    """Lowercased, stop words out, stemmed (the same for articles and questions)."""
    kept = [w for w in words(text) if w not in _STOP and len(w) > 1]
    return list(_stemmer().stemWords(kept))


def load_synonyms(path: Path | str = SYNONYMS) -> list[list[str]]:
    """Groups of equivalent words and phrases (a YAML list of lists)."""
    groups = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or []
    return [[str(m) for m in g] for g in groups if isinstance(g, list) and len(g) > 1]


class ArticleIndex:
    """BM25 over title/category and body, built once from a list of articles (rebuild to update)."""

    def __init__(self, articles: Sequence[ArticleLike], *, title_weight: float = TITLE_WEIGHT,
                 synonyms: list[list[str]] | None = None, encoder: Any | None = None,
                 dense_weight: float = 0.5, background: Sequence[ArticleLike] = ()) -> None:
        """`background`: articles indexed for their word statistics only (never returned), so that
        scores of a knowledge base with few articles are on the scale of a full one (see ArticleFinder)."""
        self.articles = list(articles)
        self.title_weight = title_weight
        self.dense_weight = dense_weight
        indexed = self.articles + list(background)
        self._sentences = [self._split(markdown_text(a.body)) for a in indexed]
        titles = [tokens(f"{a.title} {a.category}") for a in indexed]
        bodies = [tokens(" ".join(s)) for s in self._sentences]
        self._title = self._bm25(titles)
        self._body = self._bm25(bodies)
        sections, owner = [], []
        for i, a in enumerate(indexed):
            for part in _HEADING.split(a.body or ""):
                text = markdown_text(part)
                if text.strip():
                    sections.append(tokens(f"{a.title} {text}"))
                    owner.append(i)
        self._sections = self._bm25(sections)
        self._owner = np.array(owner, dtype=np.intp)
        n = len(indexed)
        df: dict[str, int] = {}
        for doc in bodies:
            for t in set(doc):
                df[t] = df.get(t, 0) + 1
        self._idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        groups = load_synonyms() if synonyms is None else synonyms
        self._groups = [[" ".join(words(m)) for m in g] for g in groups]
        #: A phrase also matches with up to PHRASE_SLOP words inside it ("send it back" for "send back").
        self._patterns = [re.compile("|".join(
            r"\b" + rf"\s+(?:\w+\s+){{0,{PHRASE_SLOP}}}".join(map(re.escape, m.split())) + r"\b" for m in g if m))
            for g in self._groups]
        vocabulary = {w for a, s in zip(indexed, self._sentences, strict=True)
                      for w in words(f"{a.title} {a.category} {' '.join(s)}")}
        vocabulary |= {w for g in self._groups for m in g for w in m.split()}
        self._words = sorted(w for w in vocabulary if len(w) > 3 and w not in _STOP)
        self._known = {w for w in vocabulary}
        self._encoder = encoder
        self._vectors: np.ndarray | None = None
        if encoder is not None and self.articles:
            texts = [f"{a.title}. {' '.join(s)[:1000]}" for a, s in zip(self.articles, self._sentences, strict=False)]
            self._vectors = encoder.encode(texts)

    def query_terms(self, query: str) -> tuple[list[str], list[str]]:
        """(stems of the question with typos corrected, further stems from the thesaurus)."""
        fixed = []
        for w in words(query):
            if len(w) > 4 and w not in self._known and w not in _STOP:
                close = difflib.get_close_matches(w, self._words, n=1, cutoff=TYPO_CUTOFF)
                w = close[0] if close else w
            fixed.append(w)
        text = f" {' '.join(fixed)} "
        own = tokens(text)
        extra: list[str] = []
        for group, pattern in zip(self._groups, self._patterns, strict=True):
            if pattern.search(text):
                for t in (t for m in group for t in tokens(m)):
                    if t not in own and t not in extra:
                        extra.append(t)
        return own, extra

    @property
    def tier(self) -> str:
        return "hybrid" if self._vectors is not None else "bm25"

    def __len__(self) -> int:
        return len(self.articles)

    @staticmethod
    def _split(text: str) -> list[str]:
        return [s.strip() for s in _SENTENCE.split(text) if len(s.strip()) > 2]

    @staticmethod
    def _bm25(corpus: list[list[str]]) -> bm25s.BM25 | None:
        if not corpus:
            return None
        index = bm25s.BM25(k1=K1, b=B)
        index.index([doc or [""] for doc in corpus], show_progress=False)
        return index

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every article for `query`: title field weighted, thesaurus terms at EXPANSION_WEIGHT."""
        return self._scores(self.query_terms(query))

    def section_scores(self, query: str) -> np.ndarray:
        """The BM25 score of each article's best section (title + the text under one heading)."""
        return self._section_scores(self.query_terms(query))

    def _weighted(self, index: bm25s.BM25, terms: tuple[list[str], list[str]], size: int) -> np.ndarray:
        total = np.zeros(size, dtype=np.float32)
        for words_, factor in zip(terms, (1.0, EXPANSION_WEIGHT), strict=True):
            known = [t for t in words_ if t in index.vocab_dict]
            if known:
                total += factor * index.get_scores(known)
        return total

    def _scores(self, terms: tuple[list[str], list[str]]) -> np.ndarray:
        n = len(self.articles)
        if not n or self._title is None or self._body is None:
            return np.zeros(n, dtype=np.float32)
        size = len(self._sentences)
        total = self.title_weight * self._weighted(self._title, terms, size) + self._weighted(self._body, terms, size)
        return total[:n]

    def _section_scores(self, terms: tuple[list[str], list[str]]) -> np.ndarray:
        n = len(self.articles)
        best = np.zeros(len(self._sentences), dtype=np.float32)
        if n and self._sections is not None:
            np.maximum.at(best, self._owner, self._weighted(self._sections, terms, len(self._owner)))
        return best[:n]

    def search(self, query: str, k: int = 3) -> list[Hit]:
        """The `k` best articles for `query`, best first, with a snippet; articles scoring 0 left out."""
        terms = self.query_terms(query)
        bm25 = self._scores(terms)
        rank = bm25.astype(np.float64) + SECTION_WEIGHT * self._section_scores(terms)
        if self._vectors is not None and self._encoder is not None and query.strip():
            top = float(rank.max()) if len(rank) else 0.0
            lexical = rank / top if top > 0 else rank
            dense = self._vectors @ self._encoder.encode([query])[0]
            rank = (1 - self.dense_weight) * lexical + self.dense_weight * np.clip(dense, 0.0, 1.0)
        order = np.argsort(-rank, kind="stable")[:k]
        q = set(terms[0]) | set(terms[1])
        return [Hit(self.articles[i], float(bm25[i]), self.snippet(int(i), q), float(rank[i]))
                for i in order if rank[i] > 0]

    @staticmethod
    @lru_cache(maxsize=8192)
    def _sentence_tokens(sentence: str) -> frozenset[str]:
        return frozenset(tokens(sentence))

    def snippet(self, i: int, query_tokens: set[str]) -> str:
        """The body sentence of article `i` sharing the most idf-weighted stems with the query."""
        sentences = self._sentences[i]
        if not sentences:
            return ""
        best, best_score = sentences[0], 0.0
        for s in sentences:
            score = sum(self._idf.get(t, 0.0) for t in self._sentence_tokens(s) & query_tokens)
            if score > best_score:
                best, best_score = s, score
        if len(best) <= SNIPPET_CHARS:
            return best
        return best[:SNIPPET_CHARS].rsplit(" ", 1)[0] + "…"
