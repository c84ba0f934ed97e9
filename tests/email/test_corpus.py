"""Awkward real-world mail, delivered over one SMTP session: each ingested correctly or refused with a log line.

The corpus (tests/email/corpus/*.eml) holds non-UTF-8 charsets, HTML-only mail, nested
multiparts, an attachment over the limit, malformed headers, Outlook/Thunderbird/Apple/Gmail
replies, bounces and automatic mail. The listener must survive all of it in one connection.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

import aiosmtplib
import pytest
from aiohttp.test_utils import TestClient, TestServer

from hub.models import Role
from tests.conftest import login
from tests.email.conftest import CORPUS, EmailHub


@dataclass(frozen=True)
class Ingested:
    sender: str
    subject: str
    has: tuple[str, ...] = ()
    lacks: tuple[str, ...] = ()
    name: str | None = None
    #: (filename, content type, stored in GridFS?)
    files: tuple[tuple[str, str, bool], ...] = ()
    noise: str | None = None
    original_has: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Refused:
    log: str


EXPECTED: dict[str, Ingested | Refused] = {
    "outlook_latin1_aw.eml": Ingested(
        "juergen.mueller@example.de", "Rückerstattung", name="Jürgen Müller",
        has=("leider ist die Rückerstattung für Bestellung 48213", "Mit freundlichen Grüßen"),
        lacks=("Ihre Rückerstattung ist unterwegs", "Gesendet:"), original_has=("Ihre Rückerstattung ist unterwegs",)),
    "mislabeled_cp1252.eml": Ingested("maria.lopez@example.org", "Charged twice", name="Maria Lopez",
                                      has=("I was charged €49.90 twice \u2013 that\u2019s \u201cnot great\u201d.",)),
    "windows1252.eml": Ingested("celine@example.fr", "Colis abîmé \u2013 retour", name="Céline Dupré",
                                has=("J\u2019ai reçu un colis abîmé.", "étiquette de retour")),
    "shift_jis.eml": Ingested("yamada@example.jp", "配送について", name="山田太郎",
                              has=("注文番号 12345 の配送状況を教えてください。",)),
    "html_only_gmail.eml": Ingested(
        "tom.baker@example.co.uk", "Your order 55120", name="Tom Baker",
        has=('The tracking link says "delivered" but nothing arrived — order 55120.',),
        lacks=("Your parcel is on its way", "Baker & Sons", "wrote:"),
        original_has=("Your parcel is on its way", "Baker & Sons")),
    "nested_multipart_apple.eml": Ingested(
        "anna@example.net", "Invoice is wrong", has=("the attached invoice lists 3 chairs, I ordered 2.",),
        lacks=("<div>",),
        files=(("screenshot.png", "image/png", True), ("Rechnung März.pdf", "application/pdf", True))),
    "attachment_over_limit.eml": Ingested(
        "lee.chen@example.com.au", "Photos of the damage", has=("The table arrived broken",),
        files=(("IMG_2041.JPG", "image/jpeg", False), ("order.csv", "text/csv", True))),
    "malformed_headers.eml": Ingested(
        "broken@example.com", "=?utf-8?Q?unterminated_word Übergröße =?bogus-charset?B?SGVsbG8=?= [#notanumber]",
        has=("this line has no colon",), extra={"external_id": "spacesinid@example.com"}),
    "no_message_id.eml": Ingested("webform@shop.example.net", "Contact form: question about sizes",
                                  has=("Do the boots run small?",), extra={"synthetic": True}),
    "forward_as_attachment.eml": Ingested(
        "jo.park@example.kr", "your shipping confirmation", has=("The address in this confirmation is wrong",),
        files=(("Shipping confirmation 4242.eml", "message/rfc822", True),)),
    "flowed_sv_thunderbird.eml": Ingested(
        "erik.lind@example.se", "Leverans", name="Erik Lind",
        has=("The parcel was left at the wrong door, could you ask the courier to collect it again?",),
        lacks=("Lind Design AB", "We have shipped")),
    "dsn_bounce.eml": Ingested("mailer-daemon@mx.example.com", "Undelivered Mail Returned to Sender",
                               noise="Auto-Submitted", has=("could not",),
                               files=(("attachment-1.txt", "text/rfc822-headers", True),)),
    "qmail_bounce.eml": Ingested("mailer-daemon@mail.example.org", "failure notice", noise="automated sender"),
    "auto_reply_ooo.eml": Ingested("sam.taylor@example.com.au", "Automatic reply: Re: Your order 1001",
                                   noise="Auto-Submitted", has=("out of the office",)),
    "mailing_list.eml": Ingested("news@shop-news.example", "[Deals] Spring sale starts now", noise="Precedence"),
    "no_from.eml": Refused("no usable From address"),
    "binary_junk.eml": Refused("no header section"),
}


def test_every_corpus_file_has_an_expectation() -> None:
    assert sorted(p.name for p in CORPUS.glob("*.eml")) == sorted(EXPECTED)


async def test_corpus_over_one_smtp_session(email_hub: EmailHub, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="channels.email")
    answers: dict[str, tuple[int, str]] = {}
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=email_hub.smtp_port, local_hostname="mta.example.org")
    async with client:
        for path in sorted(CORPUS.glob("*.eml")):
            raw = re.sub(rb"\r?\n", b"\r\n", path.read_bytes())
            await client.mail("mta-bounces@example.org")
            await client.rcpt("support@example.com")
            try:
                response = await client.data(raw)
                answers[path.name] = (response.code, response.message)
            except aiosmtplib.SMTPDataError as exc:
                answers[path.name] = (exc.code, exc.message)
                await client.rset()
        assert (await client.noop()).code == 250  # still serving after all of it
    await email_hub.settle()
    store = email_hub.hub.store
    for name, expected in EXPECTED.items():
        code, text = answers[name]
        if isinstance(expected, Refused):
            assert code == 554 and expected.log in text, (name, code, text)
            assert any(expected.log in r.getMessage() and "refused" in r.getMessage() for r in caplog.records), name
            continue
        assert code == 250, (name, code, text)
        message = await store.messages.find_one({"direction": "in", "metadata.from": expected.sender})
        assert message is not None, name
        meta = message["metadata"]
        assert message["subject"] == expected.subject, name
        for fragment in expected.has:
            assert fragment in message["text"], (name, fragment, message["text"])
        for fragment in expected.lacks:
            assert fragment not in message["text"], (name, fragment, message["text"])
        for fragment in expected.original_has:
            assert fragment in meta["original_text"], (name, fragment)
        if expected.name:
            assert message["author"]["name"] == expected.name, name
        assert [(a["filename"], a["content_type"], "blob_id" in a) for a in message["attachments"]] == \
            list(expected.files), name
        if expected.noise:
            assert message["suppress_bot"] and expected.noise in meta["noise"], (name, meta.get("noise"))
        else:
            assert "noise" not in meta, (name, meta.get("noise"))
        if "external_id" in expected.extra:
            assert message["external_id"] == expected.extra["external_id"]
        if expected.extra.get("synthetic"):
            assert meta["synthetic_message_id"] and message["external_id"].startswith("sb-nomsgid-")
    # The attachment over the limit is listed with its size, logged, and not stored.
    big = await store.messages.find_one({"metadata.from": "lee.chen@example.com.au"})
    assert big is not None
    assert big["attachments"][0]["size"] == 20_000
    assert big["metadata"]["dropped_attachments"][0]["filename"] == "IMG_2041.JPG"
    assert any("IMG_2041.JPG" in r.getMessage() and "not stored" in r.getMessage() for r in caplog.records)
    # Stored files come back byte for byte from GridFS.
    apple = await store.messages.find_one({"metadata.from": "anna@example.net"})
    assert apple is not None
    blob = await email_hub.hub.pipeline.blobs.get(apple["attachments"][1]["blob_id"])
    assert blob is not None and blob[0].startswith(b"%PDF-1.4") and blob[1] == "Rechnung März.pdf"
    # The web form's Reply-To is where replies go.
    form = await store.messages.find_one({"metadata.from": "webform@shop.example.net"})
    assert form is not None
    conversation = await store.conversations.find_one({"_id": form["conversation_id"]})
    assert conversation is not None and conversation["channel_data"]["reply_to"] == "pat.doe@example.net"


async def test_agents_see_files_and_the_full_original_in_the_desk(email_hub: EmailHub) -> None:
    raw = (CORPUS / "nested_multipart_apple.eml").read_bytes().replace(b"To: support@example.com",
                                                                        b"To: orders@example.com")
    await email_hub.deliver(raw, sender="anna@example.net", recipients=["orders@example.com"])
    reply = (CORPUS / "html_only_gmail.eml").read_bytes()
    await email_hub.deliver(reply, sender="tom.baker@example.co.uk", recipients=["orders@example.com"])
    await email_hub.settle()
    await email_hub.hub.accounts.create("ivy", "ivy's password", name="Ivy", roles=[Role.AGENT])
    assert email_hub.runtime.app is not None
    async with TestClient(TestServer(email_hub.runtime.app, host="127.0.0.1")) as client:
        await login(client, "ivy", "ivy's password")
        tickets = (await (await client.get("/api/tickets")).json())["tickets"]
        assert len(tickets) == 2
        by_subject = {t["subject"]: t for t in tickets}
        detail = await (await client.get(f"/api/tickets/{by_subject['Invoice is wrong']['id']}")).json()
        files = detail["messages"][0]["attachments"]
        assert [f["filename"] for f in files] == ["screenshot.png", "Rechnung März.pdf"]
        download = await client.get(f"/api/attachments/{files[1]['blob_id']}")
        assert download.status == 200 and (await download.read()).startswith(b"%PDF-1.4")
        detail = await (await client.get(f"/api/tickets/{by_subject['Your order 55120']['id']}")).json()
        shown = detail["messages"][0]
        assert "Your parcel is on its way" not in shown["text"]
        assert "Your parcel is on its way" in shown["metadata"]["original_text"]
        assert "gmail_quote" in shown["metadata"]["original_html"]
        assert shown["metadata"]["stripped"] is True
