"""What the bot does with one parsed message: answer, clarify, or hand over to a person.

Pure functions of (policy, responses, turn, parse result): no I/O, so every path is
unit-tested with fixed rankings. The conversation's memory lives in `Decision.state`:

- ``fallbacks``: consecutive messages the bot did not understand;
- ``clarify``: the options of a pending "Did you mean" question (intents + entities);
- ``feedback``: the intent just answered, while "Did that help?" waits for a reply;
- ``article``: the slug of the help-center article just offered, while its "Did that help?" waits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from bot.config import BotPolicy
from bot.nlu.base import ParseResult
from bot.responses import RenderedResponse, Responses
from hub.models import BotTurn, Decision, DecisionKind, Entity, IntentScore, QuickReply

DEFAULT_FALLBACK = "Sorry, I did not get that, could you rephrase?"
DEFAULT_HANDOFF = "I'm passing you to a colleague, who will reply here as soon as possible."
DEFAULT_FEEDBACK = "Did that help?"
DEFAULT_CLARIFY = "Did you mean:"
CLARIFY_HINT = "Reply with the number of your choice."
DEFAULT_KB_OFFER = "This article from our help center may answer your question:"

_ORDINALS = {"one": 1, "first": 1, "two": 2, "second": 2, "three": 3, "third": 3, "four": 4, "fourth": 4}
_NUMBER_REPLY = re.compile(r"^(?:option|number|no\.?|#)?\s*(\d{1,2})\s*[.)]?$")
_PAYLOAD = re.compile(r"^/([A-Za-z0-9_]+)$")
_PUNCT = re.compile(r"[^\w\s]")


class Reason:
    """Values of `Decision.reason` (stored with every bot message, used by metrics)."""

    CONFIDENT = "confident"
    CLARIFIED = "clarified"
    AMBIGUOUS = "ambiguous"
    LOW_CONFIDENCE = "low_confidence"
    OUT_OF_SCOPE = "out_of_scope"
    EMPTY = "empty_message"
    FEEDBACK_POSITIVE = "feedback_positive"
    HUMAN_REQUESTED = "human_requested"
    REPEATED_FALLBACK = "repeated_fallback"
    INTENT_ESCALATION = "intent_escalation"
    NOT_HELPFUL = "not_helpful"
    NLU_UNAVAILABLE = "nlu_unavailable"
    NO_RESPONSE = "no_response"
    ARTICLE_OFFERED = "article_offered"
    ARTICLE_HELPED = "article_helped"
    ARTICLE_NOT_HELPFUL = "article_not_helpful"


#: Decisions a well-matching help-center article replaces with an offer of it (BotService).
ARTICLE_OFFER_REASONS = frozenset({Reason.LOW_CONFIDENCE, Reason.OUT_OF_SCOPE, Reason.REPEATED_FALLBACK})


def _key(text: str) -> str:
    return " ".join(_PUNCT.sub(" ", text.lower()).split())


def payload_intent(text: str, known: Sequence[str]) -> str | None:
    """A button payload `/intent` (Rasa's convention) names the intent directly."""
    m = _PAYLOAD.match(text.strip())
    return m.group(1) if m and m.group(1) in known else None


@dataclass(frozen=True)
class DialoguePolicy:
    policy: BotPolicy
    responses: Responses

    # -- entry points -------------------------------------------------------------

    def pending_choice(self, turn: BotTurn) -> Decision | None:
        """If a "Did you mean" question is pending and the reply picks an option, answer it."""
        pending = turn.state.get("clarify")
        if not isinstance(pending, dict):
            return None
        options = [str(o) for o in pending.get("options", [])]
        chosen = self._match_option(turn.text, options)
        if chosen is None:
            return None
        scores = {str(k): float(v) for k, v in (pending.get("scores") or {}).items()}
        ranking = tuple(IntentScore(o, scores.get(o, 0.0)) for o in options)
        ranking = (IntentScore(chosen, scores.get(chosen, 0.0)), *(s for s in ranking if s.name != chosen))
        entities = tuple(
            Entity(str(e["type"]), str(e["value"]), int(e.get("start", 0)), int(e.get("end", 0)))
            for e in pending.get("entities", [])
        )
        parse = ParseResult(text=turn.text, ranking=ranking, entities=entities)
        return self._act_on_intent(turn, parse, chosen, scores.get(chosen, 0.0), Reason.CLARIFIED)

    def decide(self, turn: BotTurn, parse: ParseResult) -> Decision:
        """The decision for a parsed message (after `pending_choice` found nothing)."""
        if not turn.text.strip():
            return self._fallback(turn, parse, Reason.EMPTY)
        ranking = parse.ranking
        top = ranking[0] if ranking else None
        p = self.policy
        feedback = self._article_reply(turn, parse, top) or self._feedback_reply(turn, parse, top)
        if feedback is not None:
            return feedback
        if top is None:
            return self._fallback(turn, parse, Reason.LOW_CONFIDENCE)
        second = ranking[1] if len(ranking) > 1 else None
        if top.name == p.human_request_intent and top.confidence >= p.fallback_threshold:
            return self._act_on_intent(turn, parse, top.name, top.confidence, Reason.CONFIDENT)
        if second is not None and top.confidence - second.confidence < p.ambiguity_threshold:
            if top.confidence + second.confidence >= p.fallback_threshold:
                return self._clarify(turn, parse)
        if top.confidence < p.fallback_threshold:
            return self._fallback(turn, parse, Reason.LOW_CONFIDENCE)
        return self._act_on_intent(turn, parse, top.name, top.confidence, Reason.CONFIDENT)

    def unavailable(self, turn: BotTurn) -> Decision:
        return self._escalate(turn, None, None, Reason.NLU_UNAVAILABLE, self.policy.default_queue)

    def offer_article(
        self, turn: BotTurn, parse: ParseResult, instead: Decision, article: Mapping[str, str]
    ) -> Decision:
        """Offer a help-center article (title, snippet, link) where `instead` would fall back or hand over.

        The offer counts as one fallback (a "No" continues that path) and asks "Did that help?".
        `article` has slug, title, url and snippet; the text carries "title — link" for text channels.
        """
        p = self.policy
        lead = self._render("utter_kb_offer", turn, ())
        question = self._render("utter_ask_feedback", turn, ())
        payload = {**{k: str(article[k]) for k in ("slug", "title", "url", "snippet")},
                   "lead": lead.text if lead else DEFAULT_KB_OFFER,
                   "question": question.text if question else DEFAULT_FEEDBACK}
        lines = [payload["lead"], f"{payload['title']} — {payload['url']}"]
        if payload["snippet"]:
            lines.append(f"“{payload['snippet']}”")
        text = "\n".join(lines) + f"\n\n{payload['question']}"
        buttons = (question.buttons if question and question.buttons else None) or (
            QuickReply("Yes", f"/{p.affirm_intent}"),
            QuickReply("No", f"/{p.deny_intent}"),
        )
        state = {"fallbacks": int(turn.state.get("fallbacks", 0)) + 1, "article": payload["slug"]}
        return replace(
            self._decision(DecisionKind.ANSWER, parse, instead.intent, instead.confidence, Reason.ARTICLE_OFFERED,
                           state, text=text, quick_replies=buttons),
            article=payload, kb="offered",
        )

    # -- paths --------------------------------------------------------------------

    def _act_on_intent(
        self, turn: BotTurn, parse: ParseResult, intent: str, confidence: float, reason: str
    ) -> Decision:
        p = self.policy
        if intent == p.human_request_intent:
            return self._escalate(turn, parse, intent, Reason.HUMAN_REQUESTED, p.queue_for(intent))
        if intent in p.escalate:
            return self._escalate(turn, parse, intent, Reason.INTENT_ESCALATION, p.escalate[intent])
        if intent == p.out_of_scope_intent:
            return self._fallback(turn, parse, Reason.OUT_OF_SCOPE)
        rendered = self._render(f"utter_{intent}", turn, parse.entities)
        if rendered is None:
            return self._escalate(turn, parse, intent, Reason.NO_RESPONSE, p.default_queue)
        text, buttons = rendered.text, rendered.buttons
        state: dict[str, Any] = {}
        ask = p.wants_feedback(turn.channel) and intent not in p.smalltalk_intents and not buttons
        if ask:
            question = self._render("utter_ask_feedback", turn, ())
            text = f"{text}\n\n{question.text if question else DEFAULT_FEEDBACK}"
            buttons = (question.buttons if question and question.buttons else None) or (
                QuickReply("Yes", f"/{p.affirm_intent}"),
                QuickReply("No", f"/{p.deny_intent}"),
            )
            state["feedback"] = intent
        return self._decision(
            DecisionKind.ANSWER, parse, intent, confidence, reason, state, text=text, quick_replies=buttons
        )

    def _article_reply(self, turn: BotTurn, parse: ParseResult, top: IntentScore | None) -> Decision | None:
        """A yes/no to an offered article: "yes" = helped (deflected); "no" = the fallback path goes on."""
        slug = turn.state.get("article")
        p = self.policy
        if not slug or top is None or top.confidence < p.fallback_threshold:
            return None
        if top.name not in (p.affirm_intent, p.deny_intent):
            return None
        article = {"slug": str(slug)}
        if top.name == p.deny_intent:
            return replace(self._fallback(turn, parse, Reason.ARTICLE_NOT_HELPFUL), article=article, kb="not_helpful")
        rendered = self._render("utter_feedback_positive", turn, ())
        text = rendered.text if rendered else "Glad I could help!"
        decision = self._decision(DecisionKind.ANSWER, parse, top.name, top.confidence, Reason.ARTICLE_HELPED, {},
                                  text=text)
        return replace(decision, article=article, kb="helped")

    def _feedback_reply(self, turn: BotTurn, parse: ParseResult, top: IntentScore | None) -> Decision | None:
        """A yes/no to "Did that help?"; anything else is a new question."""
        asked = turn.state.get("feedback")
        if not asked or top is None:
            return None
        p = self.policy
        if top.confidence < p.fallback_threshold or top.name not in (p.affirm_intent, p.deny_intent):
            return None
        if top.name == p.deny_intent:
            return self._escalate(turn, parse, str(asked), Reason.NOT_HELPFUL, p.queue_for(str(asked)))
        rendered = self._render("utter_feedback_positive", turn, ())
        text = rendered.text if rendered else "Glad I could help!"
        return self._decision(
            DecisionKind.ANSWER, parse, top.name, top.confidence, Reason.FEEDBACK_POSITIVE, {}, text=text
        )

    def _clarify(self, turn: BotTurn, parse: ParseResult) -> Decision:
        p = self.policy
        top = parse.ranking[0]
        options = [
            s for s in parse.ranking[: p.max_clarify_options] if top.confidence - s.confidence < p.ambiguity_threshold
        ]
        intro = self._render("utter_clarify", turn, ())
        lines = [intro.text if intro else DEFAULT_CLARIFY]
        lines += [f"{i}. {p.label(s.name)}" for i, s in enumerate(options, 1)]
        lines.append(CLARIFY_HINT)
        state = {
            "fallbacks": int(turn.state.get("fallbacks", 0)),
            "clarify": {
                "options": [s.name for s in options],
                "scores": {s.name: s.confidence for s in options},
                "entities": [
                    {"type": e.type, "value": e.value, "start": e.start, "end": e.end} for e in parse.entities
                ],
            },
        }
        replies = tuple(QuickReply(p.label(s.name), f"/{s.name}") for s in options)
        return self._decision(
            DecisionKind.CLARIFY,
            parse,
            top.name,
            top.confidence,
            Reason.AMBIGUOUS,
            state,
            text="\n".join(lines),
            quick_replies=replies,
        )

    def _fallback(self, turn: BotTurn, parse: ParseResult, reason: str) -> Decision:
        p = self.policy
        count = int(turn.state.get("fallbacks", 0)) + 1
        top = parse.intent
        intent, confidence = (top.name, top.confidence) if top else (None, None)
        if count >= p.max_consecutive_fallbacks:
            return self._escalate(turn, parse, intent, Reason.REPEATED_FALLBACK, p.default_queue, confidence)
        name = "utter_out_of_scope" if reason == Reason.OUT_OF_SCOPE else "utter_default"
        rendered = self._render(name, turn, ()) or self._render("utter_default", turn, ())
        text = rendered.text if rendered else DEFAULT_FALLBACK
        return self._decision(DecisionKind.ANSWER, parse, intent, confidence, reason, {"fallbacks": count}, text=text)

    def _escalate(
        self,
        turn: BotTurn,
        parse: ParseResult | None,
        intent: str | None,
        reason: str,
        queue: str,
        confidence: float | None = None,
    ) -> Decision:
        rendered = None
        if reason in (Reason.INTENT_ESCALATION, Reason.HUMAN_REQUESTED) and intent:
            rendered = self._render(f"utter_{intent}", turn, parse.entities if parse else ())
        rendered = rendered or self._render("utter_handoff", turn, ())
        if confidence is None and parse is not None and parse.intent is not None:
            confidence = parse.intent.confidence if parse.intent.name == intent else None
        return Decision(
            kind=DecisionKind.ESCALATE,
            reason=reason,
            queue=queue,
            intent=intent,
            confidence=confidence,
            ranking=parse.ranking if parse else (),
            entities=parse.entities if parse else (),
            state={},
            handoff_text=rendered.text if rendered else DEFAULT_HANDOFF,
        )

    # -- helpers ------------------------------------------------------------------

    def _render(self, name: str, turn: BotTurn, entities: Sequence[Entity]) -> RenderedResponse | None:
        return self.responses.render(
            name, turn.channel, entities=entities, contact_name=turn.contact_name, seed=turn.conversation_id
        )

    def _match_option(self, text: str, options: list[str]) -> str | None:
        known = payload_intent(text, options)
        if known:
            return known
        key = _key(text)
        m = _NUMBER_REPLY.match(key)
        number = int(m.group(1)) if m else _ORDINALS.get(key.removeprefix("the ").removesuffix(" one"))
        if number is not None:
            return options[number - 1] if 1 <= number <= len(options) else None
        for option in options:
            if key in (_key(self.policy.label(option)), _key(option)):
                return option
        return None

    @staticmethod
    def _decision(
        kind: DecisionKind,
        parse: ParseResult,
        intent: str | None,
        confidence: float | None,
        reason: str,
        state: dict[str, Any],
        *,
        text: str,
        quick_replies: tuple[QuickReply, ...] = (),
    ) -> Decision:
        return Decision(
            kind=kind,
            text=text,
            quick_replies=quick_replies,
            reason=reason,
            intent=intent,
            confidence=confidence,
            ranking=parse.ranking,
            entities=parse.entities,
            state=state,
        )
