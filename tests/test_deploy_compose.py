"""docker-compose.yml: a three-node replica set initiated by the file, two hubs behind nginx, Rasa and a mail
catcher. Checked with Debian's docker-compose (`config` parses, interpolates and validates without an engine;
nothing is pulled or run), and the files it mounts are read by the same code that reads them in the stack."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

from channels.email.config import parse_config
from switchboard.config import load_settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = "/usr/bin/docker-compose"


def _compose(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([COMPOSE, "-f", str(ROOT / "docker-compose.yml"), *args], capture_output=True, text=True,
                          env={**os.environ, "SWITCHBOARD_SECRET": "s" * 32}, check=False, cwd=ROOT)


def test_compose_file_validates_with_docker_compose() -> None:
    result = _compose("config", "-q")
    assert result.returncode == 0, result.stderr


def test_compose_stack_has_a_replica_set_two_hubs_a_proxy_rasa_and_a_mail_catcher() -> None:
    rendered = _compose("config")
    assert rendered.returncode == 0, rendered.stderr
    services = yaml.safe_load(rendered.stdout)["services"]
    mongos = [services[f"mongo{n}"] for n in (1, 2, 3)]
    assert all(m["command"] == ["mongod", "--replSet", "rs0", "--bind_ip_all"] for m in mongos)
    init = services["mongo-init"]
    assert init["depends_on"] == {f"mongo{n}": {"condition": "service_healthy"} for n in (1, 2, 3)}
    script = (ROOT / "deploy" / "mongo-init.js").read_text()
    assert "rs.initiate" in script and all(f"mongo{n}:27017" in script for n in (1, 2, 3))
    assert any(str(v).endswith("deploy/mongo-init.js:/deploy/mongo-init.js:ro") for v in init["volumes"])
    for name in ("hub1", "hub2"):
        hub = services[name]
        assert hub["environment"]["MONGODB_URI"] == "mongodb://mongo1:27017,mongo2:27017,mongo3:27017/?replicaSet=rs0"
        assert hub["depends_on"]["mongo-init"] == {"condition": "service_completed_successfully"}
        assert hub["environment"]["RASA_URL"] == "http://rasa:5005"
    assert services["hub1"]["volumes"] != services["hub2"]["volumes"]  # each its own data dir
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "server hub1:8080" in nginx and "server hub2:8080" in nginx and "Upgrade $http_upgrade" in nginx
    assert services["proxy"]["image"].startswith("nginx")
    assert services["rasa"]["image"].startswith("rasa/rasa:3.6")
    assert "rasa run --enable-api" in services["rasa"]["command"][0]
    assert any(str(v).endswith("config/bot:/switchboard/bot:ro") for v in services["rasa"]["volumes"])
    assert services["mailpit"]["image"].startswith("axllent/mailpit")


def test_compose_refuses_to_start_without_a_secret() -> None:
    missing = subprocess.run([COMPOSE, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"], capture_output=True,
                             text=True, env={k: v for k, v in os.environ.items() if k != "SWITCHBOARD_SECRET"},
                             check=False, cwd=ROOT)
    assert missing.returncode != 0 and "SWITCHBOARD_SECRET" in missing.stderr


def test_the_hubs_config_in_the_stack_reads_with_rasa_and_email_to_the_mail_catcher() -> None:
    settings = load_settings(ROOT / "deploy" / "switchboard.compose.yml")
    assert settings.bot["backend"] == "rasa" and "demo" in settings.channels["widget"]["sites"]
    email = parse_config(settings.channels["email"])
    assert email.listener.enabled and email.listener.port == 2525
    assert (email.relay.host, email.relay.port, email.relay.security) == ("mailpit", 1025, "none")
