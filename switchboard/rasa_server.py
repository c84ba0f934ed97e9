"""Runs a real Rasa 3.6 server (from the cached venv made by scripts/rasa-venv.sh).

Used by the Rasa tests (tests/rasa/) and by `switchboard bench rasa` (switchboard/rasa_bench.py).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV_SCRIPT = REPO / "scripts" / "rasa-venv.sh"

#: Keeps Rasa (and the libraries it loads) from reaching for the network.
OFFLINE_ENV = {
    "RASA_TELEMETRY_ENABLED": "false",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    "PYTHONWARNINGS": "ignore",
}


def ensure_rasa_venv(timeout: float = 3600.0) -> Path:
    """Run scripts/rasa-venv.sh (a quick no-op once cached) and return the `rasa` executable."""
    proc = subprocess.run(  # noqa: S603 - our own script
        ["bash", str(VENV_SCRIPT)],  # noqa: S607 - bash from PATH, as the tests always ran it
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **OFFLINE_ENV},
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{VENV_SCRIPT.name} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    lines = proc.stdout.strip().splitlines()
    rasa = Path(lines[-1]) if lines else Path()
    if not rasa.is_file():
        raise RuntimeError(f"{VENV_SCRIPT.name} printed no rasa executable: {proc.stdout!r}")
    return rasa


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RasaServer:
    """One `rasa run --enable-api` process on a loopback port, in its own working dir.

    It starts with no model (with `rest_channel`, Rasa's REST input channel is on too).
    Models trained through the API land in `workdir/models`,
    and a restart loads the newest of them (`--model models`), as a real deployment would.
    """

    def __init__(self, rasa: Path, workdir: Path, port: int | None = None, token: str | None = None,
                 rest_channel: bool = False) -> None:
        self.rasa = rasa
        self.rest_channel = rest_channel  # also serve Rasa's own REST channel, /webhooks/rest/webhook
        self.workdir = workdir
        self.port = port or free_loopback_port()
        self.token = token
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "rasa-server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 180.0) -> None:
        """Start the server and return once it answers `GET /version`."""
        if self.is_running():
            return
        (self.workdir / "models").mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
        env.update(OFFLINE_ENV)
        env["RASA_CACHE_DIRECTORY"] = str(self.workdir / "rasa-cache")
        env["MPLCONFIGDIR"] = str(self.workdir / "matplotlib")
        cmd = [str(self.rasa), "run", "--enable-api", "-i", "127.0.0.1", "--port", str(self.port)]
        cmd += ["--model", "models"]
        if self.token:
            cmd += ["--auth-token", self.token]
        if self.rest_channel:
            (self.workdir / "credentials.yml").write_text("rest: {}\n", encoding="utf-8")
            cmd += ["--credentials", "credentials.yml"]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - the cached venv's rasa, our arguments
                cmd,
                cwd=self.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends all of it
            )
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.is_running():
                raise RuntimeError(f"rasa exited during startup:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/version", timeout=2) as resp:  # noqa: S310
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)  # poll interval only: readiness is what we wait on
        self.stop()
        raise RuntimeError(f"rasa did not answer within {timeout}s:\n{self.log_tail()}")

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM its process group, SIGKILL after `timeout`."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        except ProcessLookupError:
            proc.wait(10)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
