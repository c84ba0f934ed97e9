"""The phone channel: Twilio SMS (hub channel `sms`) and voice calls (hub channel `voice`) in one adapter."""

from __future__ import annotations

from aiohttp import web

from channels.base import ChannelContext
from channels.phone.calls import COLLECTION as CALLS
from channels.phone.calls import CallLog
from channels.phone.config import PhoneConfig
from channels.phone.inbound_media import TwilioMediaFetcher
from channels.phone.media import MediaLinks
from channels.phone.optouts import OptOutBook
from channels.phone.rest import TwilioMessages
from channels.phone.signature import TwilioSignature
from channels.phone.sms import SMS_STATUS_PATH, SmsWebhooks
from channels.phone.sms_sender import PARTS_COLLECTION, SmsSender
from channels.phone.voice import VoiceWebhooks
from channels.phone.voice_sender import VoiceSender
from hub.ports import OutboundSender


class PhoneChannel:
    name = "phone"

    def __init__(self, context: ChannelContext) -> None:
        self.config = PhoneConfig.from_mapping(context.config, context.public_url)
        hub = context.hub
        self.store = hub.store
        signature = TwilioSignature(self.config.auth_token, self.config.public_url, self.config.account_sid)
        self.optouts = OptOutBook(hub.store)
        self.calls = CallLog(hub.store)
        self.api = TwilioMessages(self.config.account_sid, self.config.auth_token, self.config.api_base_url,
                                  self.config.timeout_seconds)
        status_callback = self.config.public_url + SMS_STATUS_PATH if self.config.status_callbacks else None
        # Customers' MMS media and voicemail recordings, downloaded into the hub before they are stored.
        self.inbound_media = TwilioMediaFetcher(self.config.account_sid, self.config.auth_token,
                                                self.config.api_base_url, max_bytes=self.config.media_max_bytes,
                                                timeout_seconds=self.config.media_timeout_seconds)
        self.sms = SmsWebhooks(hub, signature, self.optouts, self.inbound_media)
        self.voice = VoiceWebhooks(hub, self.config, signature, self.calls, self.inbound_media)
        # Twilio fetches MMS media from the URL it reaches the hub at, like its webhooks.
        self.media = MediaLinks(hub, self.config.public_url, context.secret)
        self._senders: list[OutboundSender] = [
            SmsSender(hub.store, self.api, self.optouts, self.config.sms_max_chars, status_callback, self.media,
                      starts_from=self.config.sms_from),
            VoiceSender(),  # no `files`: the desk refuses attachments on a call
        ]

    def routes(self) -> list[web.RouteDef]:
        return [*self.sms.routes(), *self.voice.routes(), *self.media.routes()]

    def senders(self) -> list[OutboundSender]:
        return list(self._senders)

    async def start(self) -> None:
        await self.store.db[PARTS_COLLECTION].create_index("message_id")
        await self.store.db[PARTS_COLLECTION].create_index("sid")  # a retry's lookup: is this SID ours already?
        await self.store.db[CALLS].create_index("started_at")
        await self.api.start()

    async def stop(self) -> None:
        await self.api.stop()
        await self.inbound_media.stop()
