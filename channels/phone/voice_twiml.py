"""The TwiML documents a call moves through, built with the twilio package's `VoiceResponse`.

Every `action` URL is absolute (on the public base URL), so Twilio signs exactly the
URL the hub rebuilds when the callback arrives. A `<Gather>` always sets
`actionOnEmptyResult`, so silence comes back to the hub too instead of falling off
the end of the document.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlencode

from twilio.twiml.voice_response import VoiceResponse

from channels.phone.config import PhoneConfig

VOICE_PATH = "/webhooks/twilio/voice"
GATHER_PATH = f"{VOICE_PATH}/gather"
CHOICE_PATH = f"{VOICE_PATH}/choice"
RECORDED_PATH = f"{VOICE_PATH}/recorded"
RECORDING_PATH = f"{VOICE_PATH}/recording"
TRANSCRIPTION_PATH = f"{VOICE_PATH}/transcription"
STATUS_PATH = f"{VOICE_PATH}/status"

_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]+\)")
_MD_MARKS = re.compile(r"[*_`#>]+")


def speakable(text: str) -> str:
    """Chat formatting read aloud sounds wrong: keep link labels, drop markdown marks and line breaks."""
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_MARKS.sub("", text)
    return " ".join(text.split())


class Twiml:
    def __init__(self, config: PhoneConfig) -> None:
        self.config = config
        self.base = config.public_url

    def url(self, path: str, **query: int) -> str:
        return f"{self.base}{path}" + (f"?{urlencode(query)}" if query else "")

    def _say(self, parent: VoiceResponse, text: str) -> None:
        kwargs = {"language": self.config.language}
        if self.config.voice:
            kwargs["voice"] = self.config.voice
        parent.say(speakable(text), **kwargs)

    def ask(self, lines: Sequence[str], *, turn: int, silent: int = 0, keypad: bool = False) -> str:
        """Say `lines` while listening for the caller's next question (or a key press when options were offered)."""
        response = VoiceResponse()
        gather = response.gather(
            input="speech dtmf" if keypad else "speech",
            action=self.url(GATHER_PATH, turn=turn, silent=silent), method="POST",
            speech_timeout="auto", language=self.config.language, action_on_empty_result=True,
            **({"num_digits": 1} if keypad else {}),
        )
        for line in lines:
            self._say(gather, line)
        return str(response)

    def menu(self, lines: Sequence[str], *, attempt: int) -> str:
        """After a handoff: leave a voicemail (1) or get a call back (2)."""
        response = VoiceResponse()
        gather = response.gather(
            input="dtmf speech", num_digits=1, action=self.url(CHOICE_PATH, attempt=attempt), method="POST",
            speech_timeout="auto", language=self.config.language, action_on_empty_result=True,
            hints="voicemail, call back",
        )
        for line in [*lines, self.config.texts.escalation_menu]:
            self._say(gather, line)
        return str(response)

    def voicemail(self) -> str:
        response = VoiceResponse()
        self._say(response, self.config.texts.voicemail_prompt)
        response.record(
            action=self.url(RECORDED_PATH), method="POST", max_length=self.config.voicemail_max_seconds,
            finish_on_key="*", play_beep=True, timeout=5,
            transcribe=True, transcribe_callback=self.url(TRANSCRIPTION_PATH),
            recording_status_callback=self.url(RECORDING_PATH), recording_status_callback_event="completed",
        )
        # Twilio skips the action for an empty recording and carries on here.
        self._say(response, self.config.texts.voicemail_empty)
        response.hangup()
        return str(response)

    def goodbye(self, lines: Sequence[str]) -> str:
        response = VoiceResponse()
        for line in lines:
            self._say(response, line)
        response.hangup()
        return str(response)
