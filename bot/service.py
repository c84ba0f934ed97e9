"""`BotService`: the hub's `Bot` port, built from a config directory and an NLU backend."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from pathlib import Path

from bot.config import BotConfig, load_bot_config
from bot.evaluation import ThresholdChoice, choose_threshold
from bot.kb.source import ArticleFinder, KnowledgeSource
from bot.negatives import with_negatives
from bot.nlu.base import NLUBackend, NLUUnavailable, ParseResult, ProgressCallback
from bot.nlu.builtin import BuiltinNLU
from bot.policy import ARTICLE_OFFER_REASONS, DialoguePolicy, payload_intent
from hub.models import BotTurn, Decision, IntentScore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Active:
    """What answers now: swapped in one assignment, so a turn never mixes two models' parts."""

    config: BotConfig
    dialogue: DialoguePolicy
    model_version: str | None
    #: Digest of the training data this model was built from (set by the model lifecycle).
    training_digest: str | None = None
    #: What the default threshold objective found at the last training (built-in NLU only).
    threshold: ThresholdChoice | None = None


class BotService:
    """Message in, decision out (`hub.ports.Bot`), plus training and the current model version."""

    def __init__(self, config: BotConfig, backend: NLUBackend, config_dir: Path | None = None) -> None:
        self._backend = backend
        self._active = _Active(config, DialoguePolicy(config.policy, config.responses), None)
        self._config_dir = config_dir
        self._swap_lock = asyncio.Lock()
        #: Help-center articles offered when no intent is confident (`use_knowledge`; none by default).
        self.articles: ArticleFinder | None = None

    def use_knowledge(self, source: KnowledgeSource, public_url: str | None = None) -> None:
        """Offer published help-center articles from `source` (hub.knowledge) where the bot would fall back.

        With the embeddings tier the backend's sentence encoder adds the dense tier to article
        retrieval too (bot.kb.index: it reorders; `kb.min_score` stays on BM25)."""
        self.articles = ArticleFinder(source, public_url, encoder=getattr(self._backend, "encoder", None))

    @property
    def config(self) -> BotConfig:
        return self._active.config

    @property
    def backend(self) -> NLUBackend:
        return self._backend

    @property
    def model_version(self) -> str | None:
        """Version id of the model answering now (None before the first training)."""
        return self._active.model_version

    @property
    def threshold(self) -> ThresholdChoice | None:
        """The default objective's choice and trade-off curve at the last built-in training (None otherwise)."""
        return self._active.threshold

    @property
    def training_digest(self) -> str | None:
        """Digest of the stored training-data version answering now (None when not from the database)."""
        return self._active.training_digest

    async def train(self, progress: ProgressCallback | None = None) -> str:
        """Train the backend on the current training data; the new model answers from then on."""
        version = await self.apply(self.config, train=True, progress=progress)
        assert version is not None
        return version

    async def reload(self, progress: ProgressCallback | None = None) -> str:
        """Re-read the YAML files (after trainers edited them) and retrain."""
        if self._config_dir is None:
            raise RuntimeError("this BotService was not built from a directory")
        version = await self.apply(load_bot_config(self._config_dir), train=True, progress=progress)
        assert version is not None
        return version

    async def apply(
        self,
        config: BotConfig,
        *,
        train: bool,
        progress: ProgressCallback | None = None,
        training_digest: str | None = None,
    ) -> str | None:
        """Make `config` current: train the backend on it first when `train`, then swap.

        The backend keeps answering with its old model while it trains (the built-in one
        builds the new model in a thread and replaces it in one assignment); the answers,
        policy and model version are swapped right after, with no await in between, so
        a turn sees either the old bundle or the new one. `train=False` swaps only the
        answers and policy (a shared Rasa server another process already trained).
        """
        async with self._swap_lock:
            version = self._active.model_version
            choice = self._active.threshold
            if train:
                data = config.training_data
                if isinstance(self._backend, BuiltinNLU):
                    self._backend.synonyms = dict(config.synonyms)
                    p = config.policy
                    data = with_negatives(data, p.out_of_scope_intent, enabled=p.builtin_negatives,
                                          excluded=p.excluded_negatives)
                version = await self._backend.train(data, progress)
                choice = self._choose_threshold(config)
            if choice is not None and config.policy.auto_threshold:
                config = replace(config, policy=replace(config.policy, fallback_threshold=choice.threshold))
            self._active = _Active(config, DialoguePolicy(config.policy, config.responses), version, training_digest,
                                   choice)
            return version

    def _choose_threshold(self, config: BotConfig) -> ThresholdChoice | None:
        classifier = getattr(self._backend, "classifier", None)
        if classifier is None:
            return None
        p = config.policy
        choice = choose_threshold(classifier, p.out_of_scope_intent, p.in_scope_tolerance)
        if choice is not None:
            classifier.set_oos_bias(p.out_of_scope_intent, choice.oos_bias)
        return choice

    async def decide(self, turn: BotTurn) -> Decision:
        active = self._active
        dialogue = active.dialogue
        chosen = dialogue.pending_choice(turn)
        if chosen is not None:
            return chosen
        intent = payload_intent(turn.text, list(active.config.training_data.intents))
        if intent is not None:
            parse = ParseResult(text=turn.text, ranking=(IntentScore(intent, 1.0),))
        elif not turn.text.strip():
            parse = ParseResult(text=turn.text, ranking=())
        else:
            try:
                parse = await self._backend.parse(turn.text)
            except NLUUnavailable as exc:
                log.warning("NLU unavailable for conversation %s: %s", turn.conversation_id, exc)
                return dialogue.unavailable(turn)
        decision = dialogue.decide(turn, parse)
        kb = active.config.policy.kb
        if self.articles is not None and kb.enabled and decision.reason in ARTICLE_OFFER_REASONS:
            try:
                article = await self.articles.best(turn.text, kb.min_score, kb.revision_ttl_seconds)
            except Exception:  # the knowledge base is a bonus: without it the bot falls back as before
                log.exception("knowledge base unavailable for conversation %s", turn.conversation_id)
                article = None
            if article is not None:
                return dialogue.offer_article(turn, parse, decision, article)
        return decision


def missing_responses(config: BotConfig) -> list[str]:
    """Intents the bot can recognise but has no `utter_<intent>` for (and does not escalate)."""
    p = config.policy
    handled = {p.human_request_intent, p.out_of_scope_intent, *p.escalate}
    return [i for i in config.training_data.intents if i not in handled and f"utter_{i}" not in config.responses]


async def build_bot(
    config_dir: Path | str,
    backend: NLUBackend | None = None,
    *,
    train: bool | None = None,
    progress: ProgressCallback | None = None,
) -> BotService:
    """Read the config directory, pick the backend (built-in by default) and train it.

    `train=None` trains only the built-in backend: a Rasa server usually already has a
    model, and retraining it at every start-up would take minutes.
    """
    directory = Path(config_dir)
    config = load_bot_config(directory)
    for intent in missing_responses(config):
        log.warning("intent %s has no utter_%s response: it will be handed over to a person", intent, intent)
    if backend is None:
        backend = BuiltinNLU(synonyms=config.synonyms)
        train = True if train is None else train
    service = BotService(config, backend, directory)
    if train:
        await service.train(progress)
    return service
