"""Two-factor sign-in in the desk: a user enrols from the Account view (the secret read off the page, the
code computed with pyotp), logs out and signs in with password and code; a role that requires it sends
its user to enrolment before anything else."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from hub.models import Role
from switchboard.bootstrap import Runtime
from tests.browser.conftest import screenshot
from tests.test_totp import code, pin_clocks


async def sign_in(page: Any, username: str, password: str) -> None:
    await page.fill("#login-form input[name=username]", username)
    await page.fill("#login-form input[name=password]", password)
    await page.click("#login-form button[type=submit]")


async def read_secret(page: Any) -> str:
    secret_box = page.locator("#totp-secret")
    await expect(secret_box).to_be_visible()
    await expect(page.locator("img.totp-qr")).to_be_visible()
    secret = await secret_box.get_attribute("data-secret")
    assert secret and (await secret_box.text_content() or "").replace(" ", "") == secret
    return secret


async def test_enrol_then_sign_in_with_a_code(browser: Any, live_url: str, runtime: Runtime) -> None:
    assert runtime.hub is not None
    pin_clocks(runtime)
    await runtime.hub.accounts.create("agent1", "agent one password", name="Agent One", roles=[Role.AGENT])
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await ctx.new_page()
    await page.goto(f"{live_url}/desk")
    await sign_in(page, "agent1", "agent one password")
    await expect(page.locator("#whoami")).to_contain_text("Agent One")

    await page.click("a[data-nav=account]")
    await expect(page.locator("#totp-panel")).to_contain_text("Off.")
    await page.click("#totp-start")
    secret = await read_secret(page)
    await screenshot(page, "totp-enrolment")
    await page.fill("#totp-code", code(secret, 5))
    await page.click("#totp-enrol button[type=submit]")
    await expect(page.locator("#totp-enrol .error")).to_contain_text("not right")
    await page.fill("#totp-code", code(secret))
    await page.click("#totp-enrol button[type=submit]")
    await expect(page.locator("#totp-recovery li")).to_have_count(8)
    await screenshot(page, "totp-recovery-codes")
    await page.click("#totp-continue")
    await expect(page.locator("#totp-panel")).to_contain_text("On · 8 recovery codes left")
    assert secret not in (await page.content())  # gone from the page once enrolled

    await page.click("#logout")
    await sign_in(page, "agent1", "agent one password")
    code_form = page.locator("#login-code-form")
    await expect(code_form).to_be_visible()
    await expect(page.locator("#login-form")).to_be_hidden()
    await expect(page.locator("#app")).to_be_hidden()
    await page.fill("#login-code", code(secret))  # the code that confirmed the enrolment: used already
    await page.click("#login-code-form button[type=submit]")
    await expect(page.locator("#login-code-error")).to_contain_text("not right")
    await screenshot(page, "totp-code-step")
    await page.fill("#login-code", code(secret, 1))
    await page.click("#login-code-form button[type=submit]")
    await expect(page.locator("#whoami")).to_contain_text("Agent One")
    await expect(code_form).to_have_count(0)
    await ctx.close()


async def test_a_required_role_enrols_before_using_the_desk(browser: Any, live_url: str, runtime: Runtime) -> None:
    assert runtime.hub is not None
    pin_clocks(runtime)
    await runtime.hub.totp.set_required_roles(["supervisor"])
    await runtime.hub.accounts.create("sup1", "supervisor password", name="Sam Super", roles=[Role.SUPERVISOR])
    await runtime.hub.accounts.create("root", "root password", name="Ada Admin", roles=[Role.ADMIN])
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await ctx.new_page()
    await page.goto(f"{live_url}/desk")
    # The admin's control: which roles must use it.
    await sign_in(page, "root", "root password")
    await page.click("a[data-nav=account]")
    policy = page.locator("#totp-policy")
    await expect(policy.locator("input[value=supervisor]")).to_be_checked()
    await expect(policy.locator("input[value=trainer]")).not_to_be_checked()
    await policy.locator("input[value=trainer]").check()
    await policy.locator("button[type=submit]").click()
    await expect(policy).to_contain_text("Saved.")
    assert await runtime.hub.totp.required_roles() == {"supervisor", "trainer"}
    await screenshot(page, "totp-policy")
    await page.click("#logout")

    await sign_in(page, "sup1", "supervisor password")
    required = page.locator("#totp-required")
    await expect(required).to_contain_text("Your role requires")
    await expect(page.locator("#nav a")).to_have_count(0)
    await expect(page.locator("#view-tickets")).to_be_hidden()
    secret = await read_secret(page)
    await screenshot(page, "totp-required")
    await page.fill("#totp-code", code(secret))
    await page.click("#totp-enrol button[type=submit]")
    await page.click("#totp-continue")
    await expect(page.locator("a[data-nav=tickets]")).to_be_visible()
    await expect(page.locator("#view-tickets")).to_be_visible()
    await expect(required).to_have_count(0)
    await ctx.close()
