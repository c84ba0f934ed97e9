"""CSAT by email: the rating request carries one signed link per score to the public page `/csat/<token>`.

The page records nothing on GET (mail scanners open links); its form's POST records the rating once.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

from hub.csat import CsatLinks
from hub.models import Role, utcnow
from tests.conftest import http_client
from tests.email.conftest import EmailHub, customer_mail
from tests.email.relay import RelayStandIn

LINK = re.compile(r"^\s+(\d) - [a-z ]+: (http\S+/csat/(\S+))$", re.MULTILINE)


async def _rating_request(email_hub: EmailHub, relay: RelayStandIn) -> tuple[Any, dict[int, str]]:
    """A solved email ticket and the paths of its rating mail's five links, by score."""
    await email_hub.deliver(customer_mail("Order 48213", "The parcel never arrived.", to="orders@example.com"))
    await email_hub.settle()
    await relay.next()  # the acknowledgement
    ticket = await email_hub.hub.store.tickets.find_one({})
    assert ticket is not None
    agent = await email_hub.hub.accounts.create("alice", "correct horse battery", name="Alice", roles=[Role.AGENT])
    await email_hub.hub.tickets.reply(ticket["_id"], agent, "We sent a new one.", then_status="solved")
    await relay.next()  # the answer
    request = (await relay.next()).message
    text = request.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]
    assert f"Your request #{ticket['number']} is solved" in text
    links = {int(score): "/csat/" + token for score, _url, token in LINK.findall(text)}
    assert sorted(links) == [1, 2, 3, 4, 5], text
    html = request.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert html.count('<a href="http') == 5  # one click each in an HTML client too
    return ticket, links


async def test_an_email_link_shows_the_score_and_the_form_records_it_once(
        email_hub: EmailHub, relay: RelayStandIn) -> None:
    ticket, links = await _rating_request(email_hub, relay)
    store = email_hub.hub.store
    async with http_client(email_hub.runtime) as client:
        page = await client.get(links[4])  # what a link scanner does, too
        body = await page.text()
        assert page.status == 200 and 'value="4" checked' in body and "Send rating" in body
        assert page.headers["Cache-Control"] == "no-store"
        after_get = await store.tickets.find_one({"_id": ticket["_id"]})
        assert after_get is not None and after_get.get("csat") is None  # opening the link records nothing

        foreign = await client.post(links[4], data={"score": "4"}, headers={"Origin": "https://evil.example"})
        assert foreign.status == 403
        bad = await client.post(links[4], data={"score": "9"})
        assert bad.status == 400 and "1 to 5" in await bad.text()

        sent = await client.post(links[4], data={"score": "4", "comment": "Quick and kind."})
        assert sent.status == 200 and "4 of 5" in await sent.text()
        rated = await store.tickets.find_one({"_id": ticket["_id"]})
        assert rated is not None
        assert {k: rated["csat"][k] for k in ("score", "comment", "channel")} == {
            "score": 4, "comment": "Quick and kind.", "channel": "email"}

        again = await client.post(links[1], data={"score": "1"})  # another score's link: refused
        assert again.status == 409 and "rated already" in await again.text()
        reload = await client.get(links[2])
        reload_body = await reload.text()
        assert reload.status == 200 and "4 of 5" in reload_body and "<form" not in reload_body
    still = await store.tickets.find_one({"_id": ticket["_id"]})
    assert still is not None and still["csat"]["score"] == 4
    report = await email_hub.hub.metrics.window(utcnow() - timedelta(hours=1), utcnow() + timedelta(seconds=1))
    assert report["overall"]["ratings"] == 1 and report["overall"]["csat"] == 1.0


async def test_forged_tampered_and_expired_links_are_refused(email_hub: EmailHub, relay: RelayStandIn) -> None:
    ticket, links = await _rating_request(email_hub, relay)
    links_of_hub = email_hub.hub.tickets.csat_links
    assert links_of_hub is not None
    forged = CsatLinks("not the hub secret", "http://x").token(ticket["number"], 5)
    expired = links_of_hub.token(ticket["number"], 5, now=time.time() - 15 * 24 * 3600)
    token = links[5].rsplit("/", 1)[1]
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    async with http_client(email_hub.runtime) as client:
        for path, status, says in ((f"/csat/{forged}", 404, "not valid"), (f"/csat/{tampered}", 404, "not valid"),
                                   (f"/csat/{expired}", 410, "expired"), ("/csat/nothing", 404, "not valid")):
            page = await client.get(path)
            assert page.status == status and says in await page.text(), path
            post = await client.post(path, data={"score": "5"})
            assert post.status == status, path
    untouched = await email_hub.hub.store.tickets.find_one({"_id": ticket["_id"]})
    assert untouched is not None and untouched.get("csat") is None
