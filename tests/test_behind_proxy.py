"""The desk behind a real TLS reverse proxy (Debian's nginx, started here) and forged X-Forwarded-* headers."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from switchboard.bootstrap import Runtime
from switchboard.config import ConfigError, load_settings
from tests.conftest import http_client, make_settings, running
from tests.helpers import eventually
from tests.tls import self_signed_certificate

PASSWORD = "proxy test password"


@dataclass
class Proxy:
    url: str
    ssl: ssl.SSLContext


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


NGINX_CONF = """
{user}
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $http_host;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
        }}
    }}
}}
"""


@asynccontextmanager
async def nginx(tmp: Path, upstream: int, port: int | None = None) -> AsyncIterator[Proxy]:
    """nginx terminating TLS on a free loopback port and proxying to the hub; stopped at the end."""
    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if binary is None:
        pytest.fail("nginx is not installed (scripts/install-system-deps.sh)", pytrace=False)
    cert, key = self_signed_certificate(tmp)
    port = port or _free_port()
    conf = tmp / "nginx.conf"
    # As root, nginx would hand its workers to `nobody`, who cannot enter pytest's private tmp dir.
    conf.write_text(NGINX_CONF.format(user="user root;" if os.geteuid() == 0 else "", tmp=tmp, port=port,
                                      cert=cert, key=key, upstream=upstream), encoding="utf-8")
    process = subprocess.Popen([binary, "-p", str(tmp), "-e", str(tmp / "error.log"), "-c", str(conf)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    context = ssl.create_default_context(cafile=str(cert))

    async def listening() -> bool:
        assert process.poll() is None, (process.stderr.read() if process.stderr else b"").decode()
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return False
        writer.close()
        return True

    try:
        await eventually(listening, what="nginx to listen")
        yield Proxy(f"https://127.0.0.1:{port}", context)
    finally:
        process.terminate()
        process.wait(timeout=10)


@asynccontextmanager
async def desk_behind_nginx(mongo_uri: str, tmp_path: Path, shop_bot: Any,
                            **settings: Any) -> AsyncIterator[tuple[Runtime, Proxy]]:
    async with running(make_settings(mongo_uri, tmp_path, **settings), shop_bot) as rt, http_client(rt) as hub:
        assert rt.hub is not None
        await rt.hub.accounts.create("paula", PASSWORD)
        async with nginx(tmp_path, hub.port) as proxy:
            yield rt, proxy


def browser(proxy: Proxy, local_address: str = "127.0.0.1") -> aiohttp.ClientSession:
    """Like a browser on this page: sends its Origin, keeps cookies (also for an IP host and `Secure`)."""
    return aiohttp.ClientSession(
        base_url=proxy.url, headers={"Origin": proxy.url}, cookie_jar=aiohttp.CookieJar(unsafe=True),
        connector=aiohttp.TCPConnector(ssl=proxy.ssl, local_addr=(local_address, 0)))


async def test_login_through_https_proxy_with_trusted_proxies(mongo_uri: str, tmp_path: Path, shop_bot: Any) -> None:
    async with desk_behind_nginx(mongo_uri, tmp_path, shop_bot, trusted_proxies=["127.0.0.1"]) as (rt, proxy):
        async with browser(proxy) as session:
            resp = await session.post("/api/auth/login", json={"username": "paula", "password": PASSWORD})
            assert resp.status == 200, await resp.text()
            cookie = resp.headers["Set-Cookie"]
            assert "sb_session=" in cookie and "Secure" in cookie and "HttpOnly" in cookie
            csrf = (await resp.json())["csrf"]
            away = await session.post("/api/me/status", json={"status": "away"}, headers={"X-CSRF-Token": csrf})
            assert away.status == 200, await away.text()
            async with session.ws_connect("/api/desk/ws") as ws:  # the desk's live feed through the proxy
                assert not ws.closed
                await ws.send_str("ping")
        # The client's address comes from the proxy's X-Forwarded-For (nginx saw 127.0.0.2).
        async with browser(proxy, "127.0.0.2") as session:
            wrong = await session.post("/api/auth/login", json={"username": "paula", "password": "wrong"})
            assert wrong.status == 401
        assert rt.hub is not None
        assert await rt.hub.store.login_throttle.find_one({"_id": "ip:127.0.0.2"}) is not None


async def test_without_trusted_proxies_the_origin_check_fails(mongo_uri: str, tmp_path: Path, shop_bot: Any) -> None:
    """The hub then sees what nginx sends it, plain http, while the browser's Origin says https: refused."""
    async with desk_behind_nginx(mongo_uri, tmp_path, shop_bot) as (_rt, proxy), browser(proxy) as session:
        resp = await session.post("/api/auth/login", json={"username": "paula", "password": PASSWORD})
        assert resp.status == 403
        assert "from this origin" in (await resp.json())["error"]


async def test_public_url_alone_is_enough(mongo_uri: str, tmp_path: Path, shop_bot: Any,
                                         caplog: pytest.LogCaptureFixture) -> None:
    """Without trusting the proxy's headers, a configured https public URL is the expected origin; the operator is
    told once that every client now has the proxy's address."""
    port = _free_port()
    settings = make_settings(mongo_uri, tmp_path, public_url=f"https://127.0.0.1:{port}/")
    async with running(settings, shop_bot) as rt, http_client(rt) as hub:
        assert rt.hub is not None
        await rt.hub.accounts.create("paula", PASSWORD)
        async with nginx(tmp_path, hub.port, port) as proxy, browser(proxy) as session:
            resp = await session.post("/api/auth/login", json={"username": "paula", "password": PASSWORD})
            assert resp.status == 200, await resp.text()
            assert (await session.get("/healthz")).status == 200
            told = [r.getMessage() for r in caplog.records if "X-Forwarded-For, which is ignored" in r.getMessage()]
            assert len(told) == 1 and "every client counts as 127.0.0.1" in told[0]
            assert "Secure" in resp.headers["Set-Cookie"]
            csrf = (await resp.json())["csrf"]
            away = await session.post("/api/me/status", json={"status": "away"}, headers={"X-CSRF-Token": csrf})
            assert away.status == 200, await away.text()


async def test_forwarded_headers_from_an_untrusted_peer_are_ignored(mongo_uri: str, tmp_path: Path,
                                                                     shop_bot: Any,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    settings = make_settings(mongo_uri, tmp_path, trusted_proxies=["10.9.9.9"])  # a proxy, but not us
    async with running(settings, shop_bot) as rt, http_client(rt) as client:
        assert rt.hub is not None
        await rt.hub.accounts.create("paula", PASSWORD)
        forged = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example", "X-Forwarded-For": "203.0.113.9"}
        refused = await client.post("/api/auth/login", json={"username": "paula", "password": PASSWORD},
                                    headers={**forged, "Origin": "https://evil.example"})
        assert refused.status == 403  # the forged headers did not make evil.example our origin
        wrong = await client.post("/api/auth/login", json={"username": "paula", "password": "wrong"}, headers=forged)
        assert wrong.status == 401
        assert await rt.hub.store.login_throttle.find_one({"_id": "ip:127.0.0.1"}) is not None  # the real peer
        assert await rt.hub.store.login_throttle.find_one({"_id": "ip:203.0.113.9"}) is None
        ok = await client.post("/api/auth/login", json={"username": "paula", "password": PASSWORD}, headers=forged)
        assert ok.status == 200
        assert "Secure" not in ok.headers["Set-Cookie"]  # plain http stays plain http
    assert not [r for r in caplog.records if "X-Forwarded-For, which is ignored" in r.getMessage()]  # proxies listed


async def test_a_trusted_proxy_must_describe_exactly_one_hop(mongo_uri: str, tmp_path: Path, shop_bot: Any) -> None:
    """A chain (a client's own X-Forwarded-For kept by `$proxy_add_x_forwarded_for`) is refused with a reason."""
    async with running(make_settings(mongo_uri, tmp_path, trusted_proxies=["127.0.0.1"]), shop_bot) as rt, \
            http_client(rt) as client:
        resp = await client.get("/healthz", headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.9"})
        assert resp.status == 400
        assert "$remote_addr" in (await resp.json())["error"]
        assert (await client.get("/healthz")).status == 200  # the proxy host's own health check


def test_trusted_proxies_config(tmp_path: Path) -> None:
    config = tmp_path / "switchboard.yml"
    config.write_text("hub:\n  trusted_proxies: 127.0.0.1, 10.0.0.0/8\n", encoding="utf-8")
    assert load_settings(config).trusted_proxies == ["127.0.0.1", "10.0.0.0/8"]
    config.write_text("hub:\n  trusted_proxies: [localhost]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="trusted_proxies"):
        load_settings(config)
