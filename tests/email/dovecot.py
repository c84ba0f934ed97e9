"""A throw-away Dovecot IMAP server (Debian's dovecot-imapd) for the IMAP tests.

Its own configuration in a temporary directory, a passwd-file user, plaintext IMAP on
a free loopback port; no system service is touched. Run as root it hands mail and
login processes to `nobody`, as any other user it runs everything as that user.
"""

from __future__ import annotations

import getpass
import grp
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

USER = "support"
PASSWORD = "imap-secret"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Dovecot:
    def __init__(self) -> None:
        binary = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)
        if binary is None:
            raise FileNotFoundError("dovecot")
        self.binary = binary
        self.dir = Path(tempfile.mkdtemp(prefix="sb-dovecot-"))
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def _config(self) -> str:
        if os.geteuid() == 0:
            user, group = "nobody", "nogroup"
        else:
            user, group = getpass.getuser(), grp.getgrgid(os.getegid()).gr_name
        d = self.dir
        return f"""
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
mail_location = maildir:{d}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = static
  args = uid={user} gid={group} home={d}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""

    def start(self, startup_seconds: float = 20.0) -> None:
        self.dir.chmod(0o755)
        (self.dir / "mail").mkdir(mode=0o777)
        (self.dir / "mail").chmod(0o777)
        (self.dir / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n", encoding="utf-8")
        (self.dir / "dovecot.conf").write_text(self._config(), encoding="utf-8")
        log = (self.dir / "stdout.log").open("wb")
        self.process = subprocess.Popen([self.binary, "-F", "-c", str(self.dir / "dovecot.conf")],
                                        stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + startup_seconds
        while True:  # no readiness event to wait on: poll the port for the greeting, bounded
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited with {self.process.returncode}: {self.logs()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"dovecot did not answer on port {self.port}: {self.logs()}")
            time.sleep(0.05)

    def logs(self) -> str:
        parts = [p.read_text(errors="replace") for p in (self.dir / "stdout.log", self.dir / "dovecot.log")
                 if p.exists()]
        return "\n".join(parts)[-3000:]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None
        shutil.rmtree(self.dir, ignore_errors=True)
