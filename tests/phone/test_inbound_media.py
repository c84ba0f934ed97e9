"""Customers' MMS media and voicemail recordings downloaded into the hub (GridFS), so agents can open them.

The Twilio stand-in serves the files at their Twilio paths behind Basic auth, optionally
redirecting to a "CDN" on another origin that refuses credentials, and fails on demand.
"""

from __future__ import annotations

import io
import wave
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestClient
from yarl import URL

from channels.phone.config import PhoneConfig, PhoneConfigError
from channels.phone.inbound_media import TwilioMediaFetcher
from hub.store import Doc
from switchboard.bootstrap import Runtime
from tests.phone.test_mms import JPEG
from tests.phone.test_sms import text_in
from tests.phone.test_voice import VOICE, call, escalate, gather_of
from tests.phone.twilio_standin import MediaRequest, TwilioStandIn, fixture
from tests.phone.twilio_webhooks import ACCOUNT_SID, AUTH_TOKEN, post_webhook

TEN_MB = 10 * 1024 * 1024  # the documented default of channels.phone.media_max_bytes
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
MEDIA_SID = "ME3e5a7c9b1d3f5a7c9e1b3d5f7a9c1e2d"  # the last part of mms_incoming.json's MediaUrl0
CREDENTIALS = (ACCOUNT_SID, AUTH_TOKEN)


def wav(seconds: float = 0.5) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes((i * 7) % 256 for i in range(int(8000 * seconds) * 2)))
    return out.getvalue()


def mms(*media: tuple[str, str], sid: str | None = None) -> dict[str, str]:
    """The recorded MMS webhook with these (MediaUrl, MediaContentType) pairs instead of its own."""
    params = fixture("mms_incoming.json")
    del params["MediaUrl0"], params["MediaContentType0"]
    if sid is not None:
        params.update(MessageSid=sid, SmsMessageSid=sid, SmsSid=sid)
    params["NumMedia"] = str(len(media))
    for i, (url, content_type) in enumerate(media):
        params[f"MediaUrl{i}"] = url
        params[f"MediaContentType{i}"] = content_type
    return params


def mediaURL(sid: str, message_sid: str = "MM8a6c4e2b0d9f7a5c3e1b9d7f5a3c1e0b") -> str:
    return f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{message_sid}/Media/{sid}"


async def stored_message(runtime: Runtime, external_id: str) -> Doc:
    assert runtime.hub is not None
    [message] = await runtime.hub.store.messages.find({"external_id": external_id}).to_list()
    return message


async def blob(runtime: Runtime, attachment: Doc) -> tuple[bytes, str, str]:
    assert runtime.hub is not None and attachment.get("blob_id")
    found = await runtime.hub.blobs.get(attachment["blob_id"])
    assert found is not None
    return found


async def test_an_mms_picture_is_stored_with_its_bytes_fetched_with_auth_and_without_it_on_the_cdn(
    phone: TestClient[Any, Any], phone_runtime: Runtime, twilio_api: TwilioStandIn
) -> None:
    params = fixture("mms_incoming.json")
    photo = twilio_api.serve_media(params["MediaUrl0"], JPEG, "image/jpeg", via_cdn=True)
    second = mediaURL("ME" + "5c" * 16)
    map_path = twilio_api.serve_media(second, PNG, "image/png")  # served directly, no redirect
    params.update(NumMedia="2", MediaUrl1=second, MediaContentType1="image/png")
    await text_in(phone, params)

    message = await stored_message(phone_runtime, params["MessageSid"])
    assert message["text"] == "The parcel arrived like this"
    assert "dropped_attachments" not in message["metadata"]
    picture, drawing = message["attachments"]
    assert (picture["filename"], picture["content_type"], picture["size"], picture["url"]) == (
        f"{MEDIA_SID}.jpg", "image/jpeg", len(JPEG), params["MediaUrl0"])
    assert await blob(phone_runtime, picture) == (JPEG, f"{MEDIA_SID}.jpg", "image/jpeg")
    assert (drawing["filename"], drawing["url"]) == (f"ME{'5c' * 16}.png", second)
    assert await blob(phone_runtime, drawing) == (PNG, f"ME{'5c' * 16}.png", "image/png")

    # The Twilio URL went to the configured API base with Basic auth; the CDN link it redirected
    # to (another origin) got no Authorization header at all, and served the bytes.
    assert [(r.server, r.auth, r.authorization, r.answered) for r in twilio_api.media_requests_for(photo)] == [
        ("api", CREDENTIALS, True, 307), ("cdn", None, False, 200)]
    assert [(r.server, r.auth, r.answered) for r in twilio_api.media_requests_for(map_path)] == [
        ("api", CREDENTIALS, 200)]
    assert len(twilio_api.media_requests) == 3


async def test_a_replayed_mms_webhook_stores_one_message_and_downloads_nothing_again(
    phone: TestClient[Any, Any], phone_runtime: Runtime, twilio_api: TwilioStandIn
) -> None:
    params = fixture("mms_incoming.json")
    twilio_api.serve_media(params["MediaUrl0"], JPEG, "image/jpeg", via_cdn=True)
    await text_in(phone, params)
    assert len(twilio_api.media_requests) == 2  # the API request and the CDN request
    await text_in(phone, params)  # Twilio redelivers (e.g. to the fallback URL): same MessageSid
    await text_in(phone, params)

    assert phone_runtime.hub is not None
    assert await phone_runtime.hub.store.messages.count_documents({"external_id": params["MessageSid"]}) == 1
    assert len(twilio_api.media_requests) == 2
    message = await stored_message(phone_runtime, params["MessageSid"])
    assert await blob(phone_runtime, message["attachments"][0]) == (JPEG, f"{MEDIA_SID}.jpg", "image/jpeg")
    assert await phone_runtime.hub.store.db["attachments.files"].count_documents({}) == 1


async def test_a_failing_media_download_still_stores_the_message_with_the_reason(
    phone: TestClient[Any, Any], phone_runtime: Runtime, twilio_api: TwilioStandIn
) -> None:
    broken, fine, gone = mediaURL("ME" + "b1" * 16), mediaURL("ME" + "f1" * 16), mediaURL("ME" + "90" * 16)
    twilio_api.serve_media(broken, JPEG, "image/jpeg")
    twilio_api.fail_media(broken, 503)
    twilio_api.serve_media(fine, PNG, "image/png", via_cdn=True)
    # `gone` is not served at all: the stand-in answers 404 like Twilio for deleted media.
    params = mms((broken, "image/jpeg"), (fine, "image/png"), (gone, "video/mp4"), sid="MM" + "c3" * 16)
    await text_in(phone, params)

    message = await stored_message(phone_runtime, params["MessageSid"])
    kept, stored, missing = message["attachments"]
    assert "blob_id" not in kept and kept["url"] == broken and kept["filename"] == f"ME{'b1' * 16}.jpg"
    assert await blob(phone_runtime, stored) == (PNG, f"ME{'f1' * 16}.png", "image/png")
    assert "blob_id" not in missing and missing["url"] == gone
    assert message["metadata"]["dropped_attachments"] == [
        {"filename": f"ME{'b1' * 16}.jpg", "content_type": "image/jpeg", "url": broken, "reason": "HTTP 503"},
        {"filename": f"ME{'90' * 16}.mp4", "content_type": "video/mp4", "url": gone, "reason": "HTTP 404"},
    ]
    # The customer's text still reached the bot like any other message.
    assert message["text"] == "The parcel arrived like this" and message["suppress_bot"] is False


async def test_media_over_the_size_cap_is_kept_as_a_url_with_the_reason(
    phone: TestClient[Any, Any], phone_runtime: Runtime, twilio_api: TwilioStandIn
) -> None:
    exactly, announced, streamed = (mediaURL("ME" + h * 16) for h in ("e0", "e1", "e2"))
    twilio_api.serve_media(exactly, b"\xff" * TEN_MB, "image/jpeg", via_cdn=True)
    # One byte over: once with a Content-Length, once chunked (the size is only known by reading).
    twilio_api.serve_media(announced, b"\xff" * (TEN_MB + 1), "image/jpeg")
    twilio_api.serve_media(streamed, b"\xff" * (TEN_MB + 1), "image/jpeg", via_cdn=True, chunked=True)
    params = mms((exactly, "image/jpeg"), (announced, "image/jpeg"), (streamed, "image/jpeg"), sid="MM" + "d4" * 16)
    await text_in(phone, params)

    message = await stored_message(phone_runtime, params["MessageSid"])
    fits, too_big, too_big_streamed = message["attachments"]
    data, _name, content_type = await blob(phone_runtime, fits)
    assert len(data) == TEN_MB and content_type == "image/jpeg"
    assert "blob_id" not in too_big and "blob_id" not in too_big_streamed
    reason = f"larger than the {TEN_MB} byte limit"
    assert [(d["url"], d["reason"]) for d in message["metadata"]["dropped_attachments"]] == [
        (announced, reason), (streamed, reason)]
    assert twilio_api.media_requests_for(urlsplit(streamed).path)[-1].server == "cdn"  # it was being read


async def test_credentials_go_only_to_twilio_and_the_configured_api_origin(
    phone: TestClient[Any, Any], phone_runtime: Runtime, twilio_api: TwilioStandIn
) -> None:
    # A media URL on some other host (here the CDN origin, which refuses any Authorization) is
    # fetched without our credentials; the CDN serves a link it handed out before.
    photo = twilio_api.serve_media(mediaURL("ME" + "a7" * 16), JPEG, "image/jpeg", via_cdn=True)
    fetcher = TwilioMediaFetcher(ACCOUNT_SID, AUTH_TOKEN, twilio_api.url, max_bytes=TEN_MB, timeout_seconds=5)
    try:
        assert await fetcher.download(mediaURL("ME" + "a7" * 16)) == JPEG
        [_api, cdn] = twilio_api.media_requests_for(photo)
        cdn_link = f"{twilio_api.cdn_url}{cdn.path}"
        params = mms((cdn_link, "image/jpeg"), sid="MM" + "e5" * 16)
        await text_in(phone, params)
        message = await stored_message(phone_runtime, params["MessageSid"])
        assert await blob(phone_runtime, message["attachments"][0]) == (JPEG, f"{params['MessageSid']}-0.jpg",
                                                                         "image/jpeg")
        assert twilio_api.media_requests[-1] == MediaRequest("cdn", cdn.path, None, False, 200)

        assert fetcher.sends_credentials(fetcher.target(URL(twilio_api.url + "/2010-04-01/x")))
        for stranger in ("http://api.twilio.com/x", "https://api.twilio.com.evil.example/x",
                         "https://evil.example/2010-04-01/x", f"{twilio_api.cdn_url}/cdn/x"):
            assert not fetcher.sends_credentials(URL(stranger)), stranger
        # Twilio's own API URLs are moved to the configured base, where the credentials go.
        rebased = fetcher.target(URL("https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1.wav"))
        assert str(rebased) == f"{twilio_api.url}/2010-04-01/Accounts/AC1/Recordings/RE1.wav"
        assert fetcher.sends_credentials(rebased)
    finally:
        await fetcher.stop()


def test_the_size_cap_and_timeout_are_configurable_with_documented_defaults() -> None:
    base = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN}
    default = PhoneConfig.from_mapping(base, "https://support.example.com")
    assert (default.media_max_bytes, default.media_timeout_seconds) == (TEN_MB, 10.0)
    custom = PhoneConfig.from_mapping({**base, "media_max_bytes": 2048, "media_timeout_seconds": 2.5},
                                      "https://support.example.com")
    assert (custom.media_max_bytes, custom.media_timeout_seconds) == (2048, 2.5)
    for key, value in (("media_max_bytes", 0), ("media_timeout_seconds", -1)):
        with pytest.raises(PhoneConfigError, match=f"^channels.phone.{key} must be greater than 0$"):
            PhoneConfig.from_mapping({**base, key: value}, "https://support.example.com")


# -- voicemail ------------------------------------------------------------------------------

RECORDING = fixture("voice_record_action.json")
RECORDING_FILE = RECORDING["RecordingUrl"] + ".wav"


async def leave_voicemail(phone: TestClient[Any, Any]) -> None:
    menu = await escalate(phone)
    record = await call(phone, str(gather_of(menu).get("action")), fixture("voice_gather_digits.json"))
    assert record.find("Record") is not None


async def voicemail_on_ticket(runtime: Runtime) -> Doc:
    assert runtime.hub is not None
    store = runtime.hub.store
    voicemail = await stored_message(runtime, f"rec:{RECORDING['RecordingSid']}")
    ticket = await store.tickets.find_one({})
    assert ticket is not None and voicemail["conversation_id"] in ticket["conversation_ids"]
    return voicemail


async def test_a_voicemail_recordings_audio_is_stored_on_the_ticket(
    phone: TestClient[Any, Any], phone_runtime: Runtime, twilio_api: TwilioStandIn
) -> None:
    audio = wav()
    path = twilio_api.serve_media(RECORDING_FILE, audio, "audio/x-wav", via_cdn=True)
    await leave_voicemail(phone)
    done = await call(phone, f"{VOICE}/recorded", RECORDING)
    assert done.find("Hangup") is not None
    status = await post_webhook(phone, f"{VOICE}/recording", fixture("voice_recording_status.json"))
    assert status.status == 204

    voicemail = await voicemail_on_ticket(phone_runtime)
    [attachment] = voicemail["attachments"]
    filename = f"voicemail-{RECORDING['RecordingSid']}.wav"
    assert (attachment["url"], attachment["filename"], attachment["size"]) == (
        RECORDING["RecordingUrl"], filename, len(audio))
    assert await blob(phone_runtime, attachment) == (audio, filename, "audio/x-wav")
    assert "dropped_attachments" not in voicemail["metadata"]
    # Fetched once, at the action (the status callback found it stored): auth to the API, none to the CDN.
    assert [(r.server, r.auth, r.answered) for r in twilio_api.media_requests_for(path)] == [
        ("api", CREDENTIALS, 307), ("cdn", None, 200)]
    assert len(twilio_api.media_requests) == 2


async def test_a_recording_not_ready_at_the_action_is_stored_by_the_status_callback(
    phone: TestClient[Any, Any], phone_runtime: Runtime, twilio_api: TwilioStandIn
) -> None:
    audio = wav(1.0)
    path = twilio_api.serve_media(RECORDING_FILE, audio, "audio/x-wav")
    twilio_api.fail_media(RECORDING_FILE, 404)  # Twilio is still processing the recording
    await leave_voicemail(phone)
    done = await call(phone, f"{VOICE}/recorded", RECORDING)
    assert done.find("Hangup") is not None  # the caller is thanked all the same
    assert phone_runtime.hub is not None
    voicemails = {"external_id": f"rec:{RECORDING['RecordingSid']}"}
    assert await phone_runtime.hub.store.messages.count_documents(voicemails) == 0

    status = await post_webhook(phone, f"{VOICE}/recording", fixture("voice_recording_status.json"))
    assert status.status == 204
    voicemail = await voicemail_on_ticket(phone_runtime)
    assert await blob(phone_runtime, voicemail["attachments"][0]) == (
        audio, f"voicemail-{RECORDING['RecordingSid']}.wav", "audio/x-wav")
    assert [r.answered for r in twilio_api.media_requests_for(path)] == [404, 200]


async def test_a_recording_that_cannot_be_fetched_is_stored_with_its_url_and_the_reason(
    phone: TestClient[Any, Any], phone_runtime: Runtime, twilio_api: TwilioStandIn
) -> None:
    twilio_api.serve_media(RECORDING_FILE, wav(), "audio/x-wav")
    twilio_api.fail_media(RECORDING_FILE, 500, 502)
    await leave_voicemail(phone)
    await call(phone, f"{VOICE}/recorded", RECORDING)
    status = await post_webhook(phone, f"{VOICE}/recording", fixture("voice_recording_status.json"))
    assert status.status == 204

    voicemail = await voicemail_on_ticket(phone_runtime)
    assert voicemail["text"] == "Voicemail (14 s)"
    [attachment] = voicemail["attachments"]
    assert "blob_id" not in attachment and attachment["url"] == RECORDING["RecordingUrl"]
    assert voicemail["metadata"]["dropped_attachments"] == [{
        "filename": f"voicemail-{RECORDING['RecordingSid']}.wav", "content_type": "audio/x-wav",
        "url": RECORDING["RecordingUrl"], "reason": "HTTP 502"}]
    # A late retry of the status callback stores nothing more and fetches nothing.
    fetched = len(twilio_api.media_requests)
    again = await post_webhook(phone, f"{VOICE}/recording", fixture("voice_recording_status.json"))
    assert again.status == 204
    assert len(twilio_api.media_requests) == fetched == 2
    assert phone_runtime.hub is not None
    assert await phone_runtime.hub.store.messages.count_documents({"external_id": voicemail["external_id"]}) == 1
