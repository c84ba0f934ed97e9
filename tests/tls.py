"""A self-signed certificate for tests that speak TLS (the email relay, the reverse proxy)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """(cert, key) for localhost and 127.0.0.1, made with Debian's openssl in `folder`."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl is not installed (scripts/install-system-deps.sh installs it)", pytrace=False)
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return cert, key
