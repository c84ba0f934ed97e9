"""Twilio's webhook form parameters as typed values (the fields the hub uses; the rest go to metadata)."""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass

from multidict import MultiDictProxy

from channels.base import bad_request
from hub.models import Attachment

E164 = re.compile(r"^\+[1-9]\d{1,14}$")
#: Location fields Twilio adds from the number's registration; kept for agents.
_GEO = ("FromCity", "FromState", "FromZip", "FromCountry", "CallerCity", "CallerState", "CallerCountry")
_MAX_MEDIA = 10
_MEDIA_SID = re.compile(r"/Media/(ME[0-9a-fA-F]{32})/?(?:$|\?)")


def required(form: MultiDictProxy[str], name: str, max_len: int = 64) -> str:
    value = (form.get(name) or "").strip()
    if not value:
        raise bad_request(f"{name} is required")
    if len(value) > max_len:
        raise bad_request(f"{name} is too long")
    return value


def geo(form: MultiDictProxy[str]) -> dict[str, str]:
    return {k: form[k] for k in _GEO if form.get(k)}


def pair_thread(customer: str, our_number: str) -> str:
    """The thread key of the texts between a customer's number and one of ours, whoever wrote first."""
    return f"{customer}|{our_number}"


@dataclass(frozen=True)
class IncomingSms:
    message_sid: str
    customer: str
    our_number: str
    body: str
    media: tuple[Attachment, ...]
    opt_out_type: str | None
    metadata: dict[str, object]

    @property
    def thread_key(self) -> str:
        """One conversation per pair of numbers: the customer's and the one they texted."""
        return pair_thread(self.customer, self.our_number)

    @classmethod
    def parse(cls, form: MultiDictProxy[str]) -> IncomingSms:
        sid = required(form, "MessageSid")
        body = form.get("Body") or ""
        if len(body) > 10_000:
            raise bad_request("Body is too long")
        try:
            count = int(form.get("NumMedia") or 0)
        except ValueError as exc:
            raise bad_request("NumMedia must be a number") from exc
        if not 0 <= count <= _MAX_MEDIA:
            raise bad_request(f"NumMedia must be between 0 and {_MAX_MEDIA}")
        media = []
        for i in range(count):
            url = required(form, f"MediaUrl{i}", 2048)
            content_type = form.get(f"MediaContentType{i}") or "application/octet-stream"
            found = _MEDIA_SID.search(url)
            name = found.group(1) if found else f"{sid}-{i}"  # the media SID, as Twilio names the file
            media.append(Attachment(filename=f"{name}{_extension(content_type)}", content_type=content_type,
                                    url=url))
        twilio: dict[str, object] = {"message_sid": sid, "num_segments": form.get("NumSegments"),
                                     "num_media": count, **geo(form)}
        if form.get("MessagingServiceSid"):
            twilio["messaging_service_sid"] = form["MessagingServiceSid"]
        metadata: dict[str, object] = {"twilio": twilio}
        return cls(message_sid=sid, customer=required(form, "From"), our_number=required(form, "To"), body=body,
                   media=tuple(media), opt_out_type=(form.get("OptOutType") or None), metadata=metadata)


@dataclass(frozen=True)
class CallWebhook:
    """The parameters every voice webhook carries about its call."""

    call_sid: str
    caller: str
    our_number: str
    caller_name: str | None
    metadata: dict[str, object]

    @property
    def caller_is_number(self) -> bool:
        return bool(E164.match(self.caller))

    @classmethod
    def parse(cls, form: MultiDictProxy[str]) -> CallWebhook:
        sid = required(form, "CallSid")
        return cls(call_sid=sid, caller=(form.get("From") or form.get("Caller") or "").strip(),
                   our_number=(form.get("To") or form.get("Called") or "").strip(),
                   caller_name=(form.get("CallerName") or None),
                   metadata={"twilio": {"call_sid": sid, "call_status": form.get("CallStatus"),
                                        "direction": form.get("Direction"), **geo(form)}})


_EXTENSIONS = {"image/jpeg": ".jpg", "image/jpg": ".jpg", "image/png": ".png", "image/gif": ".gif",
               "image/webp": ".webp", "image/heic": ".heic", "image/bmp": ".bmp", "image/tiff": ".tif",
               "video/mp4": ".mp4", "video/3gpp": ".3gp", "video/quicktime": ".mov", "audio/mpeg": ".mp3",
               "audio/mp4": ".m4a", "audio/amr": ".amr", "audio/ogg": ".ogg", "audio/3gpp": ".3gp",
               "application/pdf": ".pdf", "text/vcard": ".vcf", "text/x-vcard": ".vcf", "text/plain": ".txt",
               "text/calendar": ".ics"}


def _extension(content_type: str) -> str:
    """The file extension for a MIME type (parameters ignored); empty when unknown."""
    mime = content_type.split(";", 1)[0].strip().lower()
    return _EXTENSIONS.get(mime) or mimetypes.guess_extension(mime, strict=False) or ""
