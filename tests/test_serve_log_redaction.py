"""`switchboard serve` as a real process logs the Telegram Bot API calls it makes without the bot token."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import yaml

from switchboard.embedded import free_port
from tests.telegram.conftest import BOT_TOKEN, SECRET_TOKEN, WEBHOOK, telegram_config
from tests.telegram.standin import TelegramStandIn, fixture
from tests.test_cli import ROOT, start_serve, stop_serve


def config_with_telegram(folder: Path, standin: TelegramStandIn) -> Path:
    config = yaml.safe_load((ROOT / "config" / "switchboard.yml").read_text(encoding="utf-8"))
    config["bot"]["data_dir"] = str(ROOT / "config" / "bot")  # relative to the config file otherwise
    config["channels"]["telegram"] = telegram_config(standin)
    path = folder / "switchboard.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


async def test_serve_logs_bot_api_requests_without_the_token(tmp_path: Path) -> None:
    standin = TelegramStandIn(BOT_TOKEN)
    await standin.start()
    port = free_port()
    try:
        config = config_with_telegram(tmp_path, standin)
        proc, lines = await start_serve(tmp_path / "var", port, "--config", str(config), "--log-level", "INFO")
        assert proc.stdout is not None
        reading = asyncio.create_task(proc.stdout.read())  # the rest of the output, drained while serve runs
        try:
            async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
                answer = await http.post(WEBHOOK, json=fixture("update_text.json"),
                                         headers={"X-Telegram-Bot-Api-Secret-Token": SECRET_TOKEN})
                assert answer.status == 200
            sent = await asyncio.wait_for(standin.sent.get(), timeout=60)  # the bot's answer reached "Telegram"
            assert sent.token == BOT_TOKEN
        finally:
            code = await stop_serve(proc)
            output = "\n".join(lines) + (await reading).decode()
    finally:
        await standin.close()
    assert code == 0
    assert BOT_TOKEN.split(":")[1] not in output
    assert "/bot[redacted]/sendMessage" in output  # httpx's INFO line of the request is still there
