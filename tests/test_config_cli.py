"""`switchboard config apply FILE [--dry-run]` as a real process beside a real running `switchboard serve`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aiohttp

from switchboard.embedded import free_port
from tests.test_cli import start_serve, stop_serve
from tests.test_users_cli import desk, login, one_line_failure, switchboard

FILE = """\
calendars:
  office:
    timezone: Europe/Berlin
    hours: {mon: ["09:00-17:00"], tue: ["09:00-17:00"]}
queues:
  - name: orders
    title: Parcels and delivery
    routing: least_busy
    fallback_queue: general
    calendar: office
    escalation_message: "Our parcel team will answer you."
  - name: general
    title: General support
  - name: vip
    title: VIP
    answer_target_seconds: 20
channels:
  widget:
    sites:
      shop:
        title: Acme help
        allowed_origins: ["https://shop.example.com"]
        identity_secret: "a-secret-of-at-least-thirty-two-bytes!!"
        texts: {de: {composer.send: Los}}
"""


async def queues(http: aiohttp.ClientSession) -> dict[str, Any]:
    async with http.get("/api/admin/queues") as response:
        assert response.status == 200
        return {q["name"]: q for q in (await response.json())["queues"]}


async def test_config_apply_shows_a_dry_run_diff_then_applies_beside_a_running_hub(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "var", free_port()
    path = tmp_path / "queues.yml"
    path.write_text(FILE, encoding="utf-8")
    proc, banner = await start_serve(data_dir, port)
    try:
        match = re.search(r"username: (\S+)\s+password: (\S+)", "\n".join(banner))
        assert match
        async with desk(port) as admin:
            assert await login(admin, *match.groups()) == 200
            before = await queues(admin)

            code, out, err = await switchboard("config", "apply", str(path), "--dry-run", data_dir=data_dir)
            assert code == 0, err
            lines = out.splitlines()
            assert lines[0] == "+ calendars office (added)"
            assert '~ queues orders (changed)' in lines
            assert '    title: "Orders and delivery" -> "Parcels and delivery"' in lines
            assert '    routing: "manual" -> "least_busy"' in lines
            assert '    fallback_queue: "" -> "general"' in lines
            assert '    calendar: "" -> "office"' in lines
            assert "+ queues vip (added)" in lines and "    answer_target_seconds: 20" in lines
            assert not any("queues general" in line for line in lines)  # as the file says already: unchanged
            assert "+ channels.widget.sites shop (added)" in lines and '    title: "Acme help"' in lines
            assert "    identity_secret: \"(set)\"" in lines and "thirty-two" not in out  # never the value
            assert lines[-1] == "4 change(s); dry run: nothing written"
            assert await queues(admin) == before  # nothing written

            code, out, err = await switchboard("config", "apply", str(path), data_dir=data_dir)
            assert code == 0, err
            assert out.splitlines()[-1].startswith("applied ")
            after = await queues(admin)
            assert after["orders"]["routing"] == "least_busy" and after["orders"]["calendar"] == "office"
            assert after["orders"]["escalation_message"] == "Our parcel team will answer you."
            assert after["vip"]["answer_target_seconds"] == 20
            async with admin.get("/api/widget/sites/shop", params={"lang": "de"}) as response:
                assert response.status == 200  # the running hub follows the new site at once
                site = await response.json()
            assert site["title"] == "Acme help" and site["texts"]["composer.send"] == "Los"
            async with admin.get("/api/admin/audit", params={"action": "queue.updated"}) as response:
                [entry] = (await response.json())["entries"]
            assert entry["details"]["via"] == "cli"
            assert entry["details"]["before"]["routing"] == "manual" and entry["details"]["after"]["routing"] == \
                "least_busy"

            code, out, err = await switchboard("config", "apply", str(path), "--dry-run", data_dir=data_dir)
            assert code == 0 and out.strip() == "no changes", err

        # A file that cannot be applied: one line, exit 1, nothing written.
        path.write_text("queues:\n  - name: orders\n    fallback_queue: nowhere\n", encoding="utf-8")
        code, _out, err = await switchboard("config", "apply", str(path), data_dir=data_dir)
        one_line_failure(code, err, "queues.orders: fallback_queue: no queue named 'nowhere'")
        code, _out, err = await switchboard("config", "apply", str(tmp_path / "missing.yml"), data_dir=data_dir)
        one_line_failure(code, err, "cannot read")
    finally:
        assert await stop_serve(proc) == 0
