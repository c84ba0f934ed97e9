"""The supervisor's history page and live view in a real Chromium, over the real history API.

History: tickets made through the hub's real pipeline (widget escalations, an agent's replies, a
solve, a rating) show in every chart for today, and each table's CSV export (downloaded through
the page's own link) holds the rows the table shows. Live: the view changes by itself when a
customer in another browser context asks for a person.
"""

from __future__ import annotations

import csv
import io
import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from playwright.async_api import expect

from hub.models import Role, Sender, utcnow
from switchboard.bootstrap import Runtime
from tests.browser.conftest import cut_the_feed, screenshot
from tests.conftest import http_client, login
from tests.test_ticket_list import open_ticket
from tests.test_widget_flow import say, widget_session

CHARTS = ("chart-volume", "chart-first-response", "chart-resolution", "chart-service-level", "chart-abandonment",
          "chart-bot", "chart-csat")
SUPERVISOR = ("sue", "a long supervisor password")


async def _log_in(page: Any, live_url: str) -> None:
    await page.goto(f"{live_url}/desk")
    await page.fill("input[name=username]", SUPERVISOR[0])
    await page.fill("input[name=password]", SUPERVISOR[1])
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#whoami")).to_contain_text("Sue Visor")


async def _seed_today(runtime: Runtime) -> None:
    """Three escalations: Al answers two and solves one, which the customer rates 5; the third customer ends
    the chat while waiting (abandoned)."""
    assert runtime.hub is not None
    await runtime.hub.accounts.create("al", "al's long password", name="Al Agent", roles=[Role.AGENT])
    async with http_client(runtime) as client:
        csrf = await login(client, "al", "al's long password")
        tokens = []
        for name in ("Ann", "Ben", "Cat"):
            token = await widget_session(client, name=name)
            await say(client, token, "I want to talk to a human")
            tokens.append(token)
        await runtime.hub.pipeline.drain()
        tickets = await runtime.hub.store.tickets.find({}, sort=[("number", 1)]).to_list()
        assert len(tickets) == 3
        for ticket in tickets[:2]:
            resp = await client.post(f"/api/tickets/{ticket['_id']}/reply", json={"text": "Hello, Al here"},
                                     headers={"X-CSRF-Token": csrf})
            assert resp.status == 201, await resp.text()
        resp = await client.post(f"/api/tickets/{tickets[0]['_id']}/status", json={"status": "solved"},
                                 headers={"X-CSRF-Token": csrf})
        assert resp.status == 200, await resp.text()
        await runtime.hub.tickets.rate(tickets[0]["_id"], 5)
        resp = await client.post("/api/widget/end", json={}, headers={"Authorization": f"Bearer {tokens[2]}"})
        assert resp.status == 200, await resp.text()
    # what every hub's batch job does every few seconds (hub.aggregates), now rather than eventually
    await runtime.hub.aggregates.catch_up(until=utcnow() + timedelta(seconds=1))


#: The known history before today: day offset -> tickets that day (all answered and solved by Al).
WEEK = {1: 4, 2: 2, 3: 6, 4: 3, 5: 5, 6: 1}


async def _seed_week(runtime: Runtime) -> None:
    """Tickets and bot chats of the six days before today, stored as the hub stores them, then the aggregates
    rebuilt from the raw records (`switchboard metrics rebuild`): answered after 30 s times i, solved an hour
    later, rated."""
    assert runtime.hub is not None
    al = await runtime.hub.store.agents.find_one({"username": "al"})
    assert al is not None
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    docs, number = [], 1000
    for days, count in WEEK.items():
        for i in range(count):
            created = today - timedelta(days=days) + timedelta(hours=10, minutes=5 * i)
            number += 1
            docs.append({"number": number, "queue": "general", "channel": "widget", "status": "solved",
                         "subject": f"Order {number}", "contact_id": None, "conversation_ids": [],
                         "assignee_id": al["_id"], "first_responder_id": al["_id"], "reason": "human_requested",
                         "created_at": created, "handoff_at": created,
                         "first_agent_reply_at": created + timedelta(seconds=30 * (i + 1)),
                         "solved_at": created + timedelta(hours=1), "sla": {"paused_seconds": 0},
                         "csat": {"score": 5 if i % 2 == 0 else 2, "at": created + timedelta(hours=1)}})
    await runtime.hub.store.tickets.insert_many(docs)
    # and each day three chats with the bot, closed: two it finished itself, one it handed over
    chats = []
    for days in WEEK:
        for i in range(3):
            started = today - timedelta(days=days) + timedelta(hours=9, minutes=i)
            chats.append({"channel": "widget", "thread_key": f"seed-{days}-{i}", "token": f"seed-{days}-{i}",
                          "open": False, "state": "closed", "started_at": started, "last_message_at": started,
                          "closed_at": started + timedelta(minutes=5),
                          "handoff_at": started + timedelta(minutes=2) if i == 2 else None,
                          "bot": {"turns": 4, "fallbacks": 1, "last_intent": "opening_hours"}})
    await runtime.hub.store.conversations.insert_many(chats)
    await runtime.hub.aggregates.rebuild()


def _rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def _same(shown: str, exported: str) -> bool:
    try:
        return abs(float(shown) - float(exported)) < 1e-6
    except ValueError:
        return shown == exported


async def _download(page: Any, link: Any) -> bytes:
    async with page.expect_download() as info:
        await link.click()
    download = await info.value
    return Path(await download.path()).read_bytes()


async def test_history_draws_its_charts_and_exports_what_it_shows(browser: Any, live_url: str,
                                                                  runtime: Runtime) -> None:
    assert runtime.hub is not None
    await runtime.hub.accounts.create(*SUPERVISOR, name="Sue Visor", roles=[Role.SUPERVISOR])
    await _seed_today(runtime)
    await _seed_week(runtime)
    context = await browser.new_context(viewport={"width": 1280, "height": 2200}, accept_downloads=True)
    page = await context.new_page()
    await _log_in(page, live_url)  # (its first `GET /api/me` is a 401 the console reports: before the watch)
    errors: list[str] = []  # script errors and Content-Security-Policy violations alike
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await page.click("#nav a[data-nav=history]")
    await expect(page.locator("#h-preset")).to_have_value("7d")
    for chart in CHARTS:
        await expect(page.locator(f"#{chart}")).to_have_attribute("data-drawn", "1", timeout=20000)
    # daily points; each chart is a plotly SVG with its axis titles and a legend
    volume = page.locator("#chart-volume")
    await expect(volume.locator(".main-svg").first).to_be_visible()
    await expect(volume.locator(".xtitle")).to_have_text("Day (UTC)")
    await expect(volume.locator(".ytitle")).to_have_text("Tickets")
    await expect(volume.locator(".legendtext")).to_have_text(["Opened", "Escalated", "Solved", "Abandoned"])
    await expect(page.locator("#chart-service-level .legendtext")).to_have_text(["Service level", "Goal 80.0 %"])
    # every chart title explains itself on hover, pointing at the definitions
    for chart in CHARTS:
        assert "docs/metrics.md" in (await page.locator(f"#{chart} h3").get_attribute("title") or "")
    week_total = 3 + sum(WEEK.values())
    totals = page.locator("#history-totals")
    await expect(totals.locator("tr[data-metric=opened] td")).to_have_text(str(week_total))
    agents = page.locator("#history-agents tbody tr")
    await expect(agents.filter(has_text="Al Agent")).to_contain_text(str(1 + sum(WEEK.values())))
    await expect(page.locator("#chart-resolution .ytitle")).to_have_text("Minutes")  # the unit suits the values
    await screenshot(page, "history-7-days")

    # each chart's CSV is the series it was drawn from: one row a day, the known counts
    series = _rows(await _download(page, page.locator("#chart-volume a.csv")))
    assert [int(r["opened"]) for r in series] == [WEEK[d] for d in range(6, 0, -1)] + [3]
    assert [(int(r["bot_contained"]), int(r["bot_closed"]), int(r["fallbacks"]), int(r["bot_messages"]))
            for r in series[:6]] == [(2, 3, 3, 12)] * 6
    # the agents' CSV holds exactly the rows and raw values the table shows
    exported = _rows(await _download(page, page.locator("a[data-csv=agents]")))
    shown = [dict(zip(await row.locator("td").evaluate_all("cells => cells.map(c => c.dataset.column)"),
                      await row.locator("td").evaluate_all("cells => cells.map(c => c.dataset.value)"), strict=True))
             for row in await agents.all()]
    assert [r["name"] for r in exported] == [r["name"] for r in shown] == ["Al Agent"]
    for table_row, csv_row in zip(shown, exported, strict=True):
        for column, value in table_row.items():
            assert _same(value, csv_row[column]), (column, value, csv_row[column])
    # the totals' CSV has every figure the totals table shows
    flat = _flatten_totals(_rows(await _download(page, page.locator("a[data-csv=totals]"))))
    figures = await totals.locator("td").evaluate_all(
        "cells => cells.map(c => [c.closest('tr').dataset.metric, c.dataset.value])")
    assert len(figures) >= 15
    for metric, value in figures:
        assert _same(value, flat[metric]), (metric, value, flat.get(metric))

    # another period and a filter: today only, then Al's tickets of the week
    await page.select_option("#h-preset", "today")
    await expect(totals.locator("tr[data-metric=opened] td")).to_have_text("3")
    await expect(volume.locator(".xtitle")).to_have_text("Hour (UTC)")
    await screenshot(page, "history-today")
    await page.select_option("#h-preset", "7d")
    await expect(totals.locator("tr[data-metric=abandoned] td")).to_have_text("1")  # Cat's, never assigned
    await page.select_option("#h-agent", label="Al Agent")
    await expect(volume.locator("a.csv")).to_have_attribute("href", re.compile("agent=al"))
    await expect(totals.locator("tr[data-metric=abandoned] td")).to_have_text("0")
    await expect(totals.locator("tr[data-metric=solved] td")).to_have_text(str(1 + sum(WEEK.values())))
    assert not errors, errors
    await context.close()


def _flatten_totals(rows: list[dict[str, str]]) -> dict[str, str]:
    """The totals CSV as {metric: value}: one row of columns, or rows of (metric, value)."""
    if rows and "metric" in rows[0]:
        return {r["metric"]: r["value"] for r in rows}
    return dict(rows[0]) if rows else {}


async def test_live_view_changes_by_itself_when_a_customer_is_escalated(browser: Any, live_url: str,
                                                                        runtime: Runtime) -> None:
    assert runtime.hub is not None
    await runtime.hub.accounts.create(*SUPERVISOR, name="Sue Visor", roles=[Role.SUPERVISOR])
    await runtime.hub.accounts.create("al", "al's long password", name="Al Agent", roles=[Role.AGENT])
    desk_ctx = await browser.new_context(viewport={"width": 1280, "height": 1400})
    desk = await desk_ctx.new_page()
    asked: list[str] = []
    desk.on("request", lambda request: asked.append(request.url.split("?")[0].rsplit("/", 1)[-1]))
    await _log_in(desk, live_url)
    await expect(desk.locator("body")).to_have_attribute("data-live", "1")
    await desk.click("#nav a[data-nav=dashboard]")
    opened = time.monotonic()
    live = desk.locator("#live-view")
    await expect(live).to_have_attribute("data-waiting", "0")
    await expect(desk.locator("#chart-agent-load")).to_have_attribute("data-drawn", "1", timeout=20000)
    await expect(desk.locator("#chart-last-hours")).to_have_attribute("data-opened", "0")
    await expect(desk.locator("#at-risk")).to_contain_text("No ticket is due")

    shop_ctx = await browser.new_context()
    shop = await shop_ctx.new_page()
    await shop.goto(f"{live_url}/demo")
    await expect(shop.locator("#switchboard-widget")).to_have_attribute("data-ready", "true")
    box = shop.locator(".sb-form textarea")
    await box.fill("I want to talk to a human please")
    await box.press("Enter")
    await expect(shop.locator(".sb-msg.system")).to_contain_text("ticket number is #")

    # no reload, no click: the desk socket's ticket event redraws the view
    await expect(live).to_have_attribute("data-waiting", "1")
    await expect(desk.locator("#live-queues tbody tr").filter(has_text="General support")).to_contain_text("1")
    # the chart of the last hours follows once the aggregates caught up (every 5 s), redrawn by itself too
    await expect(desk.locator("#chart-last-hours")).to_have_attribute("data-opened", "1", timeout=20000)
    await expect(desk.locator("#chart-last-hours")).to_have_attribute("data-drawn", "1", timeout=20000)
    # redrawn on the change, but the 24 hours and the 7 days (every ticket of a week read) only once a minute
    minutes = int((time.monotonic() - opened) // 59)  # the view's own once-a-minute refresh, on a slow machine
    assert asked.count("live") >= 2 and asked.count("report") == asked.count("daily") <= 1 + minutes, asked
    await expect(desk.locator("#slow-note")).to_have_text(" · updated every minute")

    # Al takes it: his load moves; its first-response clock runs out: it is about to breach
    ticket = await runtime.hub.store.tickets.find_one({})
    assert ticket is not None
    async with http_client(runtime) as client:
        csrf = await login(client, "al", "al's long password")
        resp = await client.post(f"/api/tickets/{ticket['_id']}/assign", json={"agent_id": "me"},
                                 headers={"X-CSRF-Token": csrf})
        assert resp.status == 200, await resp.text()
    await expect(desk.locator("#live-agents tbody tr").filter(has_text="Al Agent")).to_contain_text("20.0 %")
    await runtime.hub.store.tickets.update_one({"_id": ticket["_id"]}, {"$set": {
        "sla.first_response_due": utcnow() + timedelta(minutes=4)}})
    await runtime.hub.tickets.index.refresh(ticket["_id"])  # a ticket change: the view redraws
    risky = desk.locator(f"#at-risk tr[data-ticket='{ticket['_id']}']")
    await expect(risky).to_contain_text("Al Agent")
    await expect(risky).to_contain_text("first response")
    await expect(risky).to_contain_text("General support")  # the queue's title, as the table above
    await screenshot(desk, "live-view")
    await shop_ctx.close()
    await desk_ctx.close()


async def test_live_view_catches_up_once_its_feed_is_back(browser: Any, live_url: str, runtime: Runtime) -> None:
    """A ticket escalated while the supervisor's feed was down (a lost connection, a hub restarted) shows as soon
    as the feed is back, not at the view's next once-a-minute read (until 2026-12-06 it waited for that)."""
    assert runtime.hub is not None
    await runtime.hub.accounts.create(*SUPERVISOR, name="Sue Visor", roles=[Role.SUPERVISOR])
    desk = await (await browser.new_context(viewport={"width": 1280, "height": 1500})).new_page()
    await _log_in(desk, live_url)
    await expect(desk.locator("body")).to_have_attribute("data-live", "1")
    await desk.click("#nav a[data-nav=dashboard]")
    live = desk.locator("#live-view")
    await expect(live).to_have_attribute("data-waiting", "0")
    outage = await cut_the_feed(desk)
    await open_ticket(runtime, "email", Sender("ana@example.com", display_name="Ana Lima", email="ana@example.com"),
                      "My parcel never arrived", subject="Missing parcel")
    assert await live.get_attribute("data-waiting") == "0"  # not told: the feed is down
    outage.back.set()
    await expect(desk.locator("body")).to_have_attribute("data-live", "1")
    await expect(live).to_have_attribute("data-waiting", "1")
    await expect(desk.locator("#live-queues tbody tr").filter(has_text="General support")).to_contain_text("1")
    # The last 24 hours name the queues as "Now" does, by their titles
    last_day = desk.locator("#last-day tbody td:first-child")
    await expect(last_day).to_contain_text(["All", "General support"])
    assert "general" not in await last_day.all_inner_texts()
    await screenshot(desk, "live-view-caught-up")
    await desk.context.close()
