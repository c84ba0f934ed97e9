"""`BotService`: the hub's `Bot` port, built from a config directory and an NLU backend."""

from __future__ import annotations

import logging
from pathlib import Path

from bot.config import BotConfig, load_bot_config
from bot.nlu.base import NLUBackend, NLUUnavailable, ParseResult, ProgressCallback
from bot.nlu.builtin import BuiltinNLU
from bot.policy import DialoguePolicy, payload_intent
from hub.models import BotTurn, Decision, IntentScore

log = logging.getLogger(__name__)


class BotService:
    """Message in, decision out (`hub.ports.Bot`), plus training and the current model version."""

    def __init__(self, config: BotConfig, backend: NLUBackend, config_dir: Path | None = None) -> None:
        self._config = config
        self._backend = backend
        self._dialogue = DialoguePolicy(config.policy, config.responses)
        self._config_dir = config_dir
        self._model_version: str | None = None

    @property
    def config(self) -> BotConfig:
        return self._config

    @property
    def backend(self) -> NLUBackend:
        return self._backend

    @property
    def model_version(self) -> str | None:
        """Version id of the model answering now (None before the first training)."""
        return self._model_version

    async def train(self, progress: ProgressCallback | None = None) -> str:
        """Train the backend on the current training data; the new model answers from then on."""
        self._model_version = await self._backend.train(self._config.training_data, progress)
        return self._model_version

    async def reload(self, progress: ProgressCallback | None = None) -> str:
        """Re-read the YAML files (after trainers edited them) and retrain."""
        if self._config_dir is None:
            raise RuntimeError("this BotService was not built from a directory")
        config = load_bot_config(self._config_dir)
        version = await self._backend.train(config.training_data, progress)
        # swap only once the new model is ready, so answers never mix old policy and new model
        self._config, self._dialogue = config, DialoguePolicy(config.policy, config.responses)
        self._model_version = version
        return version

    async def decide(self, turn: BotTurn) -> Decision:
        dialogue = self._dialogue
        chosen = dialogue.pending_choice(turn)
        if chosen is not None:
            return chosen
        intent = payload_intent(turn.text, list(self._config.training_data.intents))
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
        return dialogue.decide(turn, parse)


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
