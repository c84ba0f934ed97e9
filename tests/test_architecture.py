"""The layers point down: import-linter checks the contracts declared in pyproject.toml.

switchboard (composition root) -> channels | agents_ui -> httpkit -> bot -> hub; hub imports no
web, chat or mail library; no two sibling modules import each other.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_hold() -> None:
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(linter), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken." in result.stdout
