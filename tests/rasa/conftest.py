"""Fixtures running a real Rasa 3.6 server for the Rasa NLU backend's tests.

Tests elsewhere can reuse them with `from tests.rasa.conftest import rasa_server, ...`
in their own conftest (or by living under tests/rasa/).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from switchboard.rasa_server import RasaServer, ensure_rasa_venv


@pytest.fixture(scope="session")
def rasa_executable() -> Path:
    """The cached Rasa venv's `rasa` (installed on first use: minutes, once)."""
    try:
        return ensure_rasa_venv()
    except Exception as e:  # a failed install must show its error, not pass quietly
        pytest.fail(f"cannot set up the Rasa 3.6 venv: {e}", pytrace=False)


@pytest.fixture(scope="session")
def rasa_server_process(rasa_executable: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RasaServer]:
    """The session's Rasa server process (no model at start), stopped at the end."""
    server = RasaServer(rasa_executable, tmp_path_factory.mktemp("rasa-server"))
    try:
        server.start()
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def rasa_server(rasa_server_process: RasaServer) -> str:
    """Base URL of a running Rasa server (`rasa run --enable-api`) on loopback."""
    return rasa_server_process.url


@pytest.fixture
def stop_rasa_server(rasa_server_process: RasaServer) -> Iterator[Callable[[], None]]:
    """A function that stops the Rasa server; it is started again after the test.

    The restarted server (same URL) loads the newest model trained before the stop.
    """
    yield rasa_server_process.stop
    if not rasa_server_process.is_running():
        rasa_server_process.start()
