"""`switchboard users add|disable|enable|reset-password|reset-totp|list`: desk users from a shell.

They work beside a running hub (through `admin_store`), never prompt (a password comes as one
line on stdin with `--password-stdin`, or is generated and printed once), record every change
in the audit trail as done `via: cli`, and print one line for an expected failure.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from collections.abc import Callable
from typing import TextIO

from hub.accounts import AccountError, AccountService
from hub.audit import AuditLog
from hub.login_throttle import LoginThrottle
from hub.models import Role, utcnow
from hub.store import Doc, PyMongoError, Store
from hub.totp import TotpService
from hub.useradmin import RELEASE_REQUESTED
from switchboard.admin_db import DatabaseUnreachable, admin_store
from switchboard.config import Settings

ROLES = ", ".join(r.value for r in Role)


class CommandError(Exception):
    """An expected failure: printed as one line."""


def add_arguments(sub: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> None:
    """The `users` command group (`common` adds the database/config options)."""
    users = sub.add_parser("users", help="add, disable, enable, list desk users; reset a password or TOTP")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    add = users_sub.add_parser("add", help="add a desk user (a password is generated unless --password-stdin)")
    add.add_argument("username")
    add.add_argument("--role", action="append", metavar="ROLE",
                     help=f"one of {ROLES}; repeat for several (default agent)")
    add.add_argument("--name", help="the name customers and colleagues see (default the username)")
    add.add_argument("--capacity", type=int, default=5, help="how many open tickets at once (default 5)")
    _password_arg(add)
    common(add)
    for command, text in (("disable", "disable a user: their sessions end at once, logins are refused"),
                          ("enable", "let a disabled user log in again")):
        common_user = users_sub.add_parser(command, help=text)
        common_user.add_argument("username")
        common(common_user)
    reset = users_sub.add_parser("reset-password", help="set a new password (generated unless --password-stdin); "
                                                        "the user's sessions end")
    reset.add_argument("username")
    _password_arg(reset)
    common(reset)
    reset_totp = users_sub.add_parser("reset-totp", help="turn a user's two-factor sign-in off (a lost phone); "
                                                         "they enrol again if their role requires it")
    reset_totp.add_argument("username")
    common(reset_totp)
    common(users_sub.add_parser("list", help="every desk user with roles, capacity and state"))


def _password_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--password-stdin", action="store_true",
                        help="read the password as one line from stdin (else a strong one is generated and printed)")


async def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        return await _run(args, settings)
    except (CommandError, AccountError, DatabaseUnreachable) as exc:
        print(f"switchboard: {exc}", file=sys.stderr)
        return 1
    except PyMongoError as exc:
        print(f"switchboard: database error: {str(exc).splitlines()[0][:200]}", file=sys.stderr)
        return 1


def password_from(args: argparse.Namespace, stdin: TextIO) -> tuple[str, bool]:
    """(password, generated): one line from stdin, or a new strong one. Never a prompt."""
    if not args.password_stdin:
        return secrets.token_urlsafe(16), True
    line = stdin.readline()
    if not line:
        raise CommandError("--password-stdin: nothing on stdin")
    return line.rstrip("\r\n"), False


def _roles(names: list[str] | None) -> list[Role]:
    known = {r.value: r for r in Role}
    for name in names or []:
        if name not in known:
            raise CommandError(f"unknown role {name!r}; roles are {ROLES}")
    return [known[name] for name in dict.fromkeys(names or ["agent"])]  # each once, in the order given


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    command = args.users_command
    if command == "add":
        roles = _roles(args.role)  # before any password is read or the database started
        password, generated = password_from(args, sys.stdin)
        async with admin_store(settings) as store:
            agent = await AccountService(store).create(args.username, password, name=args.name, roles=roles,
                                                       capacity=args.capacity)
            await AuditLog(store).record("agent.created", target=_target(agent),
                                         details={"username": agent["username"], "roles": agent["roles"],
                                                  "via": "cli"})
        print(f"created {agent['username']} ({', '.join(agent['roles'])})")
        if generated:
            print(f"password: {password}  (shown once)")
        return 0
    if command == "reset-password":
        password, generated = password_from(args, sys.stdin)
        async with admin_store(settings) as store:
            agent = await _find(store, args.username)
            if not await AccountService(store).reset_password(agent["_id"], password):
                raise CommandError(f"no user {args.username!r}")
            await AuditLog(store).record("agent.password_reset", target=_target(agent),
                                         details={"username": agent["username"], "via": "cli"})
        print(f"reset the password of {agent['username']}; their sessions ended")
        if generated:
            print(f"password: {password}  (shown once)")
        return 0
    if command == "reset-totp":
        async with admin_store(settings) as store:
            agent = await _find(store, args.username)
            was_on = await TotpService(store, LoginThrottle(store)).remove(agent["_id"])
            await AuditLog(store).record("totp.reset", target=_target(agent), details={
                "username": agent["username"], "was_enabled": was_on, "via": "cli"})
        print(f"reset the two-factor sign-in of {agent['username']}" + ("" if was_on else " (it was not on)"))
        return 0
    if command in ("disable", "enable"):
        async with admin_store(settings) as store:
            agent = await _find(store, args.username)
            changed = await AccountService(store).update(agent["_id"], disabled=command == "disable")
            if changed is None:
                raise CommandError(f"no user {args.username!r}")
            before, after = changed
            if bool(before.get("disabled")) != bool(after.get("disabled")):
                await AuditLog(store).record("agent.updated", target=_target(after), details={
                    "username": after["username"], "disabled": {"from": before.get("disabled"),
                                                                "to": after.get("disabled")}, "via": "cli"})
            if command == "disable":  # a running hub hands their active tickets back to the queues
                await store.append_event(RELEASE_REQUESTED, utcnow(), agent_id=after["_id"])
        print(f"{command}d {after['username']}" + ("; their sessions ended and a running hub hands their "
                                                   "tickets back" if command == "disable" else ""))
        return 0
    async with admin_store(settings) as store:
        users = await AccountService(store).list()
    rows = [("USERNAME", "NAME", "ROLES", "CAPACITY", "STATE")] + [
        (u["username"], u.get("name", ""), ",".join(u.get("roles", [])), str(u.get("capacity", "")),
         "disabled" if u.get("disabled") else "active") for u in users]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


async def _find(store: Store, username: str) -> Doc:
    agent = await store.agents.find_one({"username": username.strip().lower()}, projection={"password_hash": 0})
    if agent is None:
        raise CommandError(f"no user {username!r}")
    return agent


def _target(agent: Doc) -> Doc:
    return {"type": "agent", "id": agent["_id"], "name": agent.get("name")}
