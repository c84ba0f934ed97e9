"""A waiting visitor sees their place and estimated wait in the widget, live, and after a reload."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from hub.models import Role
from hub.waitestimate import TOLD_PLACES
from switchboard.bootstrap import Runtime
from switchboard.config import Settings
from tests.browser.conftest import screenshot, widget_said
from tests.conftest import make_settings
from tests.test_wait_announcements import _escalate

VIEWPORT = {"width": 1000, "height": 700}


@pytest.fixture
def settings(mongo_uri: str, tmp_path: Path) -> Settings:
    """Passes every second, so an agent coming online shows without a ticket changing."""
    return make_settings(mongo_uri, tmp_path, wait_announce_seconds=1)


async def test_the_widget_shows_the_wait_as_the_desk_changes(browser: Any, live_url: str, runtime: Runtime) -> None:
    hub = runtime.hub
    assert hub is not None
    hub.router.snapshot_seconds = 0
    page = await widget_said(browser, live_url, "I want to talk to a human please", VIEWPORT)
    wait = page.locator(".sb-wait")
    await expect(wait).to_have_text("You are number 1 in the queue. No agent is online right now: "
                                    "we will answer as soon as someone is back.")

    ann = await hub.accounts.create("ann", "ann's password", name="Ann", roles=[Role.AGENT], capacity=2)
    await hub.presence.connect(ann["_id"])
    await expect(wait).to_have_text("You are number 1 in the queue. Estimated wait: about 1 minute.")
    await screenshot(page, "widget-wait")

    await page.reload()  # the place comes back with the page
    await expect(page.locator(".sb-wait")).to_have_text("You are number 1 in the queue. "
                                                        "Estimated wait: about 1 minute.")

    [ticket] = await hub.store.tickets.find({}).to_list()
    await hub.tickets.assign(ticket["_id"], ann["_id"], ann)
    await expect(page.locator(".sb-wait")).to_be_hidden()  # an agent has it: no longer waiting
    await page.context.close()


async def test_far_back_in_a_long_line_the_widget_says_how_many_are_ahead_at_least(
    browser: Any, live_url: str, runtime: Runtime
) -> None:
    hub = runtime.hub
    assert hub is not None
    hub.router.snapshot_seconds = 0
    for n in range(TOLD_PLACES):  # a line already as long as the places told
        await _escalate(hub, "widget", f"demo:visitor:ahead{n}")
    page = await widget_said(browser, live_url, "I want to talk to a human please", VIEWPORT)
    wait = page.locator(".sb-wait")
    await expect(wait).to_have_text(f"At least {TOLD_PLACES} customers are ahead of you. No agent is online right "
                                    "now: we will answer as soon as someone is back.")
    ann = await hub.accounts.create("ann", "ann's password", name="Ann", roles=[Role.AGENT], capacity=1)
    await hub.presence.connect(ann["_id"])
    # place 51, one free slot: 50 turnovers of that slot at the default 600 s, then a reaction of 60 s: 30,060 s;
    # told as a least wait, LEAST_SHARE (0.6) of that: 301 minutes
    await expect(wait).to_have_text(f"At least {TOLD_PLACES} customers are ahead of you. "
                                    "Estimated wait: at least 5 hours.")
    await screenshot(page, "widget-wait-long-line")
    bob = await hub.accounts.create("bob", "bob's password", name="Bob", roles=[Role.AGENT], capacity=19)
    await hub.presence.connect(bob["_id"])
    # 20 free slots: 31 turnovers of 20 slots, then the reaction: 990 s, of which 0.6 is 9.9 minutes
    await expect(wait).to_have_text(f"At least {TOLD_PLACES} customers are ahead of you. "
                                    "Estimated wait: at least 10 minutes.")
    await page.reload()
    await expect(page.locator(".sb-wait")).to_have_text(f"At least {TOLD_PLACES} customers are ahead of you. "
                                                        "Estimated wait: at least 10 minutes.")
    await page.context.close()
