"""Twilio's Auth Token never reaches a log line while the SDK (which logs every request at INFO) and the
media fetcher talk to the Twilio stand-in; presigned media links lose their signatures."""

from __future__ import annotations

import base64

from channels.phone.inbound_media import TwilioMediaFetcher
from channels.phone.rest import TwilioMessages
from switchboard.config import Settings
from switchboard.log_redaction import MASK
from tests.log_capture import serve_logs
from tests.phone.twilio_standin import TwilioStandIn
from tests.phone.twilio_webhooks import ACCOUNT_SID, AUTH_TOKEN, CUSTOMER, OUR_NUMBER, PUBLIC_URL

RECORDING = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/RE0123456789abcdef0123456789abcdef"


async def test_messages_api_and_media_downloads_log_without_the_auth_token(twilio_api: TwilioStandIn) -> None:
    settings = Settings(secret="hub-signing-secret-for-this-test", channels={"phone": {
        "account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "public_url": PUBLIC_URL,
        "api_base_url": twilio_api.url}})
    twilio_api.serve_media(RECORDING, b"RIFF....WAVE", "audio/wav", via_cdn=True)
    with serve_logs(settings) as logs:
        messages = TwilioMessages(ACCOUNT_SID, AUTH_TOKEN, twilio_api.url, timeout_seconds=5)
        fetcher = TwilioMediaFetcher(ACCOUNT_SID, AUTH_TOKEN, twilio_api.url, max_bytes=1024, timeout_seconds=5)
        await messages.start()
        try:
            sid = await messages.send(CUSTOMER, OUR_NUMBER, "Your parcel left the warehouse.",
                                      f"{PUBLIC_URL}/webhooks/phone/sms/status")
            assert sid.startswith("SM")
            assert await fetcher.download(RECORDING) == b"RIFF....WAVE"  # 307 to a presigned CDN link
        finally:
            await messages.stop()
            await fetcher.stop()
    text = logs.getvalue()
    # The Auth Token is in no form in the log (as is, or in the Basic credentials), nor the CDN link's signature...
    basic = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert AUTH_TOKEN not in text and basic not in text
    assert "X-Amz-Signature=x" not in text
    # ...while the SDK's request log and the CDN request are.
    assert "-- BEGIN Twilio API Request --" in text and f"Accounts/{ACCOUNT_SID}/Messages.json" in text
    assert f"X-Amz-Signature={MASK}" in text
    # The credentials did go where they belong: the API request carried them.
    assert [r.auth for r in twilio_api.created] == [(ACCOUNT_SID, AUTH_TOKEN)]
