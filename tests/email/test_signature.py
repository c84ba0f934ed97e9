"""An agent's signature under their replies by email (hub.signatures), through the relay stand-in: in the mail and in
the stored text after the "-- " line, not in the ticket's search words, not under a private note nor a chat reply;
kept, changed and removed from the Account API, and refused when too long."""

from __future__ import annotations

from typing import Any

from hub.models import Role, Sender
from tests.conftest import http_client, login
from tests.email.conftest import EmailHub
from tests.email.relay import RelayStandIn
from tests.test_ticket_list import open_ticket

ANA = Sender("ana@example.org", display_name="Ana Lima", email="ana@example.org")
SIGNATURE = "Alice Ng\nCustomer care, Zebrafish Shop"


async def test_a_reply_by_email_carries_the_agents_signature(email_hub: EmailHub, relay: RelayStandIn) -> None:
    hub = email_hub.hub
    await hub.accounts.create("alice", "alice's long password", name="Alice Ng", roles=[Role.AGENT])
    mailed = await open_ticket(email_hub.runtime, "email", ANA, "Refund for order 5521")
    chat = await open_ticket(email_hub.runtime, "widget", Sender("demo:visitor:s1"), "Where is my parcel?")
    async with http_client(email_hub.runtime) as client:
        csrf = {"X-CSRF-Token": await login(client, "alice", "alice's long password")}
        assert (await (await client.get("/api/me/signature")).json()) == {"signature": "", "channels": ["email"]}
        typed = "  Alice Ng  \nCustomer care, Zebrafish Shop\n"
        saved = await client.put("/api/me/signature", json={"signature": typed}, headers=csrf)
        assert saved.status == 200 and (await saved.json())["signature"] == SIGNATURE  # trimmed

        async def reply(ticket: dict[str, Any], text: str, private: bool = False) -> dict[str, Any]:
            resp = await client.post(f"/api/tickets/{ticket['_id']}/reply", json={"text": text, "private": private},
                                     headers=csrf)
            assert resp.status == 201, await resp.text()
            return dict((await resp.json())["message"])

        sent = await reply(mailed, "Refunded today.")
        note = await reply(mailed, "Refund done in the shop system.", private=True)
        chatted = await reply(chat, "It left our warehouse today.")
        assert sent["text"] == f"Refunded today.\n\n-- \n{SIGNATURE}"  # what the timeline shows is what was sent
        assert note["text"] == "Refund done in the shop system." and chatted["text"] == "It left our warehouse today."
        plain = ""
        while "Refunded" not in plain:  # the relay's next mails: the bot's and the handoff's to Ana came first
            plain = (await relay.next()).message.get_body(("plain",)).get_content().replace("\r\n", "\n")
        assert plain.rstrip().endswith(f"Refunded today.\n\n-- \n{SIGNATURE}")
        # the signature's words do not make every ticket of hers match a search
        found = await client.get("/api/tickets", params={"q": "zebrafish"})
        assert found.status == 200 and (await found.json())["tickets"] == []

        # too long: refused with the reason, the one kept stays; empty: none
        for body, status, reason in (({"signature": "\n".join(["line"] * 11)}, 400, "10 lines"),
                                     ({"signature": "x" * 1001}, 400, "1000 characters"),
                                     ({"signature": 7}, 422, "signature")):
            refused = await client.put("/api/me/signature", json=body, headers=csrf)
            assert refused.status == status, await refused.text()
            assert reason in await refused.text()
        assert (await (await client.get("/api/me/signature")).json())["signature"] == SIGNATURE
        cleared = await client.put("/api/me/signature", json={"signature": " "}, headers=csrf)
        assert (await cleared.json())["signature"] == ""
        assert "signature" not in (await hub.store.agents.find_one({"username": "alice"}))
        assert (await reply(mailed, "One more thing."))["text"] == "One more thing."
