"""The phone channel's settings (`channels.phone` in the configuration file), checked once at start-up."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any

from channels.base import ChannelConfigError

#: A phone number as Twilio writes it: +, a country code, at most 15 digits.
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


class PhoneConfigError(ChannelConfigError):
    """A missing or malformed `channels.phone` setting."""


@dataclass(frozen=True)
class VoiceTexts:
    """What the hub says on a call besides the bot's own answers (override under `channels.phone.voice`)."""

    greeting: str = "Hello, thanks for calling. How can I help you today?"
    anything_else: str = "Is there anything else I can help you with?"
    not_heard: str = "Sorry, I didn't catch that."
    no_input_goodbye: str = "I couldn't hear anything, so I'll end the call now. Please call again any time. Goodbye."
    no_answer: str = "Sorry, I don't have an answer to that right now."
    goodbye: str = "Thank you for calling. Goodbye."
    escalation_menu: str = ("To leave a voicemail for our team, press 1 or say voicemail. "
                            "To get a call back on this number, press 2 or say call back.")
    voicemail_prompt: str = "Please leave your message after the tone. Press the star key when you are done."
    voicemail_thanks: str = "Thank you, we have your message and will get back to you. Goodbye."
    voicemail_empty: str = "We did not receive a message. Goodbye."
    callback_confirmed: str = "Thank you. A colleague will call you back on this number as soon as possible. Goodbye."


@dataclass(frozen=True)
class PhoneConfig:
    account_sid: str
    auth_token: str
    #: The base URL Twilio requests (webhook signatures are computed on it); behind a proxy
    #: this is the public https URL, not the address the hub listens on.
    public_url: str
    #: Where the Twilio REST API lives (tests point it at a local stand-in).
    api_base_url: str = "https://api.twilio.com"
    timeout_seconds: float = 15.0
    #: Ask Twilio to report SMS delivery failures to `/webhooks/twilio/sms/status`.
    status_callbacks: bool = True
    #: Twilio's Messages API refuses bodies longer than 1600 characters.
    sms_max_chars: int = 1600
    #: The Twilio number an agent's first text to a customer comes from ("New ticket" by SMS, hub.outbound); empty:
    #: agents answer texts but cannot start one.
    sms_from: str = ""
    language: str = "en-US"
    #: A TwiML `<Say>` voice such as `Polly.Joanna`; empty = Twilio's default voice.
    voice: str = ""
    #: Silent turns in a row before the hub hangs up politely.
    max_silent_prompts: int = 2
    #: Bot intents after which the call ends instead of asking "anything else?".
    end_call_intents: tuple[str, ...] = ("goodbye", "deny")
    voicemail_max_seconds: int = 120
    #: Customers' MMS media and voicemail recordings are downloaded into the hub up to this size per
    #: file; a larger one is kept as its Twilio URL only (`dropped_attachments`).
    media_max_bytes: int = 10 * 1024 * 1024
    #: Per file, redirects included. Below Twilio's 15 s webhook timeout: the webhook answers after the downloads.
    media_timeout_seconds: float = 10.0
    texts: VoiceTexts = field(default_factory=VoiceTexts)

    @classmethod
    def from_mapping(cls, raw: dict[str, Any], hub_public_url: str) -> PhoneConfig:
        """Read the YAML section; a missing credential is a start-up error, not a 500 later."""
        account_sid = str(raw.get("account_sid") or "").strip()
        auth_token = str(raw.get("auth_token") or "").strip()
        if not account_sid.startswith("AC"):
            raise PhoneConfigError("channels.phone.account_sid must be a Twilio Account SID (AC...)")
        if not auth_token:
            raise PhoneConfigError("channels.phone.auth_token is required (it signs Twilio's webhooks)")
        public_url = str(raw.get("public_url") or hub_public_url or "").rstrip("/")
        if not public_url.startswith(("http://", "https://")):
            raise PhoneConfigError("channels.phone.public_url (or hub.public_url) must be an http(s) URL")
        sms_from = str(raw.get("sms_from") or "").replace(" ", "")
        if sms_from and not E164.match(sms_from):
            raise PhoneConfigError("channels.phone.sms_from must be one of your Twilio numbers in E.164 form "
                                   "(+4930123456789)")
        voice_raw = raw.get("voice_texts") or {}
        known_texts = {f.name for f in fields(VoiceTexts)}
        unknown = set(voice_raw) - known_texts
        if unknown:
            raise PhoneConfigError(f"unknown channels.phone.voice_texts keys: {sorted(unknown)}")
        try:
            return cls(
                account_sid=account_sid,
                auth_token=auth_token,
                public_url=public_url,
                api_base_url=str(raw.get("api_base_url") or cls.api_base_url).rstrip("/"),
                timeout_seconds=float(raw.get("timeout_seconds", cls.timeout_seconds)),
                status_callbacks=bool(raw.get("status_callbacks", cls.status_callbacks)),
                sms_max_chars=max(1, min(1600, int(raw.get("sms_max_chars", cls.sms_max_chars)))),
                sms_from=sms_from,
                language=str(raw.get("language", cls.language)),
                voice=str(raw.get("voice", cls.voice) or ""),
                max_silent_prompts=max(1, int(raw.get("max_silent_prompts", cls.max_silent_prompts))),
                end_call_intents=tuple(raw.get("end_call_intents", cls.end_call_intents)),
                voicemail_max_seconds=max(2, int(raw.get("voicemail_max_seconds", cls.voicemail_max_seconds))),
                media_max_bytes=_positive(raw, "media_max_bytes", int, cls.media_max_bytes),
                media_timeout_seconds=_positive(raw, "media_timeout_seconds", float, cls.media_timeout_seconds),
                texts=VoiceTexts(**{k: str(v) for k, v in voice_raw.items()}),
            )
        except PhoneConfigError:
            raise
        except (TypeError, ValueError) as exc:
            raise PhoneConfigError(f"channels.phone: {exc}") from exc


def _positive(raw: dict[str, Any], key: str, kind: type[int] | type[float], default: float) -> Any:
    value = kind(raw.get(key, default))
    if value <= 0:
        raise PhoneConfigError(f"channels.phone.{key} must be greater than 0")
    return value
