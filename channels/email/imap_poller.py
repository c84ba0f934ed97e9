"""Mail that lives at a provider, fetched over IMAP (aioimaplib): polled, or pushed with IDLE.

Each message is processed once, even across restarts: the folder's UIDVALIDITY
and the last processed UID are kept in the database (`email_imap_state`), and
only UIDs above it are fetched. A message is flagged `\\Seen` (or moved) and
its UID recorded only after `hub.ingest` returned; a crash in between fetches
it again, and the `(channel, Message-ID)` key makes that second ingest a no-op.
When UIDVALIDITY changes (the folder was rebuilt) the old UIDs mean nothing, so
the folder is read again like on the first connection (`backlog`).
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import logging
import re
import ssl
from collections.abc import Callable
from typing import Any

import aioimaplib

from channels.email.config import ImapConfig, MailboxConfig
from channels.email.inbound import Receiver
from hub.models import utcnow
from hub.store import PyMongoError, Store

log = logging.getLogger(__name__)

_UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")
_UIDNEXT = re.compile(rb"UIDNEXT (\d+)")
_FETCH_UID = re.compile(rb"UID (\d+)")
_FETCH_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")
NETWORK_ERRORS = (OSError, TimeoutError, aioimaplib.AioImapException)


class ImapError(Exception):
    """The server refused a command (login, select, fetch) we cannot do without."""


class UidStore:
    """Per folder: UIDVALIDITY and the highest UID already processed."""

    def __init__(self, store: Store) -> None:
        self.collection = store.db["email_imap_state"]

    async def load(self, key: str) -> tuple[int | None, int]:
        doc = await self.collection.find_one({"_id": key})
        if doc is None:
            return None, 0
        return int(doc["uidvalidity"]), int(doc["last_uid"])

    async def save(self, key: str, uidvalidity: int, last_uid: int) -> None:
        await self.collection.update_one(
            {"_id": key}, {"$set": {"uidvalidity": uidvalidity, "last_uid": last_uid, "updated_at": utcnow()}},
            upsert=True,
        )


def _ok(response: Any, what: str) -> Any:
    if response.result != "OK":
        detail = b" ".join(line for line in response.lines if isinstance(line, bytes)).decode(errors="replace")
        raise ImapError(f"{what} failed: {response.result} {detail}"[:300])
    return response


def _number(pattern: re.Pattern[bytes], lines: list[Any]) -> int | None:
    for line in lines:
        if isinstance(line, bytes | bytearray):
            found = pattern.search(bytes(line))
            if found:
                return int(found.group(1))
    return None


def _literal(lines: list[Any]) -> bytes | None:
    """The message bytes of a FETCH response (aioimaplib hands literals over as bytearray)."""
    for line in lines:
        if isinstance(line, bytearray):
            return bytes(line)
    return None


def _search_uids(lines: list[Any]) -> list[int]:
    """UIDs of a SEARCH answer (`SEARCH 3 4`, or `3 4` once aioimaplib dropped the keyword)."""
    uids: set[int] = set()
    for line in lines:
        if not isinstance(line, bytes | bytearray):
            continue
        tokens = bytes(line).split()
        if tokens and tokens[0].upper() == b"SEARCH":
            tokens = tokens[1:]
        if tokens and all(t.isdigit() for t in tokens):
            uids.update(int(t) for t in tokens)
    return sorted(uids)


def _oversized_stub(headers: bytes, size: int, limit: int) -> bytes:
    """A message too big to fetch, as its headers and a note, so agents know it exists."""
    msg = email.message_from_bytes(headers.rstrip(b"\r\n") + b"\r\n\r\n", policy=email.policy.compat32)
    for name in ("content-type", "content-transfer-encoding", "content-disposition"):
        del msg[name]
    msg["Content-Type"] = 'text/plain; charset="utf-8"'
    msg.set_payload(f"[This message is {size} bytes, over the {limit} byte limit: its text and attachments "
                    f"were not fetched. Please look it up in the mailbox.]".encode())
    return msg.as_bytes()


def imap_ssl_context(imap: ImapConfig) -> ssl.SSLContext | None:
    return ssl.create_default_context(cafile=imap.ca_file or None) if imap.tls else None


def imap_client(imap: ImapConfig, context: ssl.SSLContext | None) -> aioimaplib.IMAP4:
    """The client the poller (and the admins' credential check) connects with."""
    if context is not None:
        return aioimaplib.IMAP4_SSL(imap.host, imap.port, timeout=imap.timeout, ssl_context=context)
    return aioimaplib.IMAP4(imap.host, imap.port, timeout=imap.timeout)


class ImapPoller:
    def __init__(self, mailbox: MailboxConfig, receiver: Receiver, uids: UidStore, max_message_bytes: int) -> None:
        assert mailbox.imap is not None
        self.mailbox = mailbox
        self.imap: ImapConfig = mailbox.imap
        self.receiver = receiver
        self.uids = uids
        self.max_message_bytes = max_message_bytes
        self.key = f"{mailbox.name}:{self.imap.username}@{self.imap.host}/{self.imap.folder}"
        #: What this process fetched and the highest UID handled (tests and the log read them).
        self.fetched = 0
        self.last_uid = 0
        self.passes = 0
        self.changed = asyncio.Condition()
        self._ssl = self._ssl_context()

    def _ssl_context(self) -> ssl.SSLContext | None:
        return imap_ssl_context(self.imap)

    async def run(self) -> None:
        """Connect, catch up, wait for more; reconnect with backoff after any network or database error."""
        failures = 0
        while True:
            try:
                await self._session()
            except (*NETWORK_ERRORS, ImapError, PyMongoError) as exc:
                failures += 1
                delay = min(300.0, 2.0 ** min(failures, 8))
                log.warning("email: IMAP %s: %s: %s; reconnecting in %.0f s", self.key, type(exc).__name__, exc,
                            delay)
                self.receiver.hub.channel_status.error("email", f"IMAP {self.mailbox.name}: {type(exc).__name__}: "
                                                                f"{exc}")
                await asyncio.sleep(delay)
            else:
                failures = 0

    async def wait_until(self, predicate: Callable[[ImapPoller], bool], seconds: float = 20.0) -> None:
        """Wait until a sync pass leaves the poller in the wanted state (for tests and health checks)."""
        async with asyncio.timeout(seconds), self.changed:
            await self.changed.wait_for(lambda: predicate(self))

    def _client(self) -> aioimaplib.IMAP4:
        return imap_client(self.imap, self._ssl)

    async def _session(self) -> None:
        client = self._client()
        try:
            await client.wait_hello_from_server()
            _ok(await client.login(self.imap.username, self.imap.password), "LOGIN")
            if self.imap.after == "move":
                await client.create(self.imap.move_to)  # "already exists" is fine
            selected = _ok(await client.select(self.imap.folder), f"SELECT {self.imap.folder}")
            uidvalidity = _number(_UIDVALIDITY, selected.lines) or 0
            uidnext = _number(_UIDNEXT, selected.lines)
            saved_validity, last = await self.uids.load(self.key)
            if saved_validity != uidvalidity:
                if saved_validity is not None:
                    log.warning("email: IMAP %s: UIDVALIDITY changed (%s → %s); reading the folder again",
                                self.key, saved_validity, uidvalidity)
                last = await self._backlog(client, uidvalidity, uidnext)
            self.last_uid = last
            while True:
                last = await self._sync(client, uidvalidity, last)
                if self.imap.idle and client.has_capability("IDLE"):
                    await self._idle(client)
                else:
                    await asyncio.sleep(self.imap.poll_seconds)
        finally:
            await self._close(client)

    async def _backlog(self, client: aioimaplib.IMAP4, uidvalidity: int, uidnext: int | None) -> int:
        """First look at a folder: process its unseen mail (or all, or none); return the UID to continue after."""
        if self.imap.backlog == "all":
            return 0
        newest = (uidnext or 1) - 1
        if self.imap.backlog == "unseen":
            found = _ok(await client.uid_search("UNSEEN"), "UID SEARCH UNSEEN")
            uids = _search_uids(found.lines)
            for start in range(0, len(uids), 200):
                sizes = await self._sizes(client, ",".join(str(u) for u in uids[start:start + 200]))
                for uid in sorted(sizes):
                    await self._process(client, uid, sizes[uid])
            newest = max([newest, *uids])
        await self.uids.save(self.key, uidvalidity, newest)
        return newest

    async def _sync(self, client: aioimaplib.IMAP4, uidvalidity: int, last: int) -> int:
        """Process every message above `last`, oldest first; returns the new high-water mark."""
        sizes = await self._sizes(client, f"{last + 1}:*")
        pending = {uid: size for uid, size in sizes.items() if uid > last}  # `n:*` always names the newest
        for uid in sorted(pending):
            await self._process(client, uid, pending[uid])
            last = uid
            await self.uids.save(self.key, uidvalidity, last)
        self.last_uid = last
        self.passes += 1
        async with self.changed:
            self.changed.notify_all()
        return last

    async def _sizes(self, client: aioimaplib.IMAP4, uid_set: str) -> dict[int, int | None]:
        """UID → size (RFC822.SIZE) of the messages in a UID set."""
        listing = _ok(await client.uid("fetch", uid_set, "(UID RFC822.SIZE)"), "UID FETCH")
        sizes: dict[int, int | None] = {}
        for line in listing.lines:
            if not isinstance(line, bytes) or b"FETCH" not in line:
                continue
            uid = _number(_FETCH_UID, [line])
            if uid is not None:
                sizes[uid] = _number(_FETCH_SIZE, [line])
        return sizes

    async def _process(self, client: aioimaplib.IMAP4, uid: int, size: int | None) -> None:
        oversized = size is not None and size > self.max_message_bytes
        parts = "(BODY.PEEK[HEADER])" if oversized else "(BODY.PEEK[])"
        response = _ok(await client.uid("fetch", str(uid), parts), "UID FETCH")
        raw = _literal(response.lines) or b""
        self.fetched += 1
        try:
            if oversized:
                log.warning("email: IMAP %s: message UID %d is %d bytes, over the limit; ingesting its headers only",
                            self.key, uid, size)
                raw = _oversized_stub(raw, size or 0, self.max_message_bytes)
            outcome = await self.receiver.receive(raw, mailbox=self.mailbox, source=f"imap:{self.mailbox.name}")
        except PyMongoError:
            raise  # the database is down: reconnect later and fetch this message again
        except Exception:
            # A message this code cannot handle must not stop the mailbox: it stays unread there for a person.
            log.exception("email: IMAP %s: UID %d could not be handled; left unread in the mailbox", self.key, uid)
            return
        if not outcome.accepted:
            log.warning("email: IMAP %s: UID %d refused (%s); flagged so it is not fetched again",
                        self.key, uid, outcome.detail)
        await self._file(client, uid)

    async def _file(self, client: aioimaplib.IMAP4, uid: int) -> None:
        """Mark a handled message: \\Seen, or moved to the `move_to` folder."""
        if self.imap.after == "seen":
            _ok(await client.uid("store", str(uid), "+FLAGS.SILENT", r"(\Seen)"), "UID STORE \\Seen")
            return
        if client.has_capability("MOVE"):
            _ok(await client.uid("move", str(uid), self.imap.move_to), "UID MOVE")
            return
        _ok(await client.uid("copy", str(uid), self.imap.move_to), "UID COPY")
        _ok(await client.uid("store", str(uid), "+FLAGS.SILENT", r"(\Seen \Deleted)"), "UID STORE \\Deleted")
        if client.has_capability("UIDPLUS"):
            _ok(await client.uid("expunge", str(uid)), "UID EXPUNGE")
        else:
            _ok(await client.expunge(), "EXPUNGE")

    async def _idle(self, client: aioimaplib.IMAP4) -> None:
        """Wait for the server to announce new mail (or for the IDLE period to end)."""
        idle = await client.idle_start(timeout=self.imap.idle_seconds)
        try:
            await client.wait_server_push(timeout=self.imap.idle_seconds + self.imap.timeout)
        finally:
            client.idle_done()
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation (shutdown).
        async with asyncio.timeout(self.imap.timeout):
            await idle

    async def _close(self, client: aioimaplib.IMAP4) -> None:
        protocol = client.protocol
        if protocol is not None and protocol.transport is not None:
            if protocol.state in ("AUTH", "SELECTED") and not protocol.has_pending_idle_command():
                with contextlib.suppress(*NETWORK_ERRORS):
                    async with asyncio.timeout(2.0):
                        await client.logout()
            protocol.transport.close()
        for task in list(client.tasks):
            task.cancel()
