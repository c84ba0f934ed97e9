"""The trainer's evaluation report draws the out-of-scope trade-off curve; a trainer picks a point on it.

Real hub, real built-in NLU with the built-in negatives, plotly.js served from the `plotly` wheel.
"""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from hub.models import Role
from switchboard.bootstrap import Runtime
from tests.browser.conftest import screenshot
from tests.browser.test_trainer import trainer_hub  # noqa: F401 - the fixture


async def test_the_evaluation_report_shows_the_curve_and_a_trainer_picks_a_point(
    browser: Any, trainer_hub: tuple[Runtime, str]  # noqa: F811
) -> None:
    runtime, url = trainer_hub
    assert runtime.hub is not None
    await runtime.hub.accounts.create("tina", "trainer password", name="Tina", roles=[Role.TRAINER])
    problems: list[str] = []
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    desk = await ctx.new_page()
    desk.on("pageerror", lambda e: problems.append(str(e)))
    desk.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    await desk.goto(f"{url}/desk")
    await desk.fill("input[name=username]", "tina")
    await desk.fill("input[name=password]", "trainer password")
    await desk.click("#login-form button[type=submit]")
    await expect(desk.locator("#whoami")).to_contain_text("Tina")
    await expect(desk.locator("body")).to_have_attribute("data-live", "1")

    await desk.click('#nav a[data-nav="bot"]')
    await desk.click('.trainer-tabs a[data-tab="evaluation"]')
    await desk.click("#eval-button")
    await expect(desk.locator("#eval-status")).to_have_attribute("data-state", "done", timeout=120_000)
    # the curve: plotly drew its SVG with the thresholds' line and the default objective's marker
    await expect(desk.locator("#oos-curve .main-svg").first).to_be_visible(timeout=30_000)
    assert await desk.locator("#oos-curve .scatterlayer .trace").count() >= 2
    await expect(desk.locator("#eval-oos")).to_contain_text("Default objective: keep cross-validated in-scope")
    await expect(desk.locator("#oos-policy")).to_contain_text("uses the default objective's threshold")
    await expect(desk.locator("#eval-oos")).to_contain_text("expected calibration error")
    await desk.locator("#oos-curve").scroll_into_view_if_needed()
    await screenshot(desk, "trainer-oos-curve")

    # pick another point: in-scope accuracy and recall of that threshold show, then it is stored
    await desk.fill("#oos-threshold-input", "0.5")
    await expect(desk.locator("#oos-selected")).to_contain_text("Threshold 0.50: in-scope accuracy")
    await desk.click("#oos-use")
    await expect(desk.locator("#oos-status")).to_contain_text("Saved in version 2")
    await expect(desk.locator("#oos-policy")).to_contain_text("A trainer picked threshold 0.50")
    await expect(desk.locator("#model-status")).to_contain_text("not trained yet")
    await screenshot(desk, "trainer-oos-picked")

    # the clash review lists the built-in negatives next to the trainer's examples
    await desk.click('.trainer-tabs a[data-tab="negatives"]')
    await expect(desk.locator("#negatives-list")).to_contain_text("built-in off-topic utterances train")
    await screenshot(desk, "trainer-oos-negatives")
    assert problems == []
    await ctx.close()
