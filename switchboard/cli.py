"""The `switchboard` command: serve, nlu-eval, kb-eval, telegram, users, contacts export/erase, retention run."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from aiohttp import web

from hub.migrations import SchemaTooNew
from switchboard.config import ConfigError, Settings, load_settings
from switchboard.embedded import EmbeddedError


def _admin_args(parser: argparse.ArgumentParser) -> None:
    """The options of every command that works on the hub's database (admin commands use only these)."""
    parser.add_argument("--data-dir", type=Path,
                        help="the hub's data dir (./var): its running database is used, else started here")
    parser.add_argument("--config", type=Path, help="configuration file (default config/switchboard.yml)")
    parser.add_argument("--mongodb-uri", help="use this MongoDB instead of the embedded server (or MONGODB_URI)")


def _serve_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="address to listen on (default from config: 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8080)")
    _admin_args(parser)


def settings_from(args: argparse.Namespace) -> Settings:
    return load_settings(args.config, host=getattr(args, "host", None), port=getattr(args, "port", None),
                         data_dir=args.data_dir, mongodb_uri=args.mongodb_uri)


async def serve(settings: Settings) -> int:
    """Run the hub until SIGINT/SIGTERM (0), or until it cannot go on (1, with a one-line reason)."""
    from switchboard.bootstrap import Runtime
    from switchboard.log_redaction import install_log_redaction

    install_log_redaction(settings)  # before anything logs: no credential reaches a log line
    stop = asyncio.Event()
    fatal: list[str] = []

    def give_up(reason: str) -> None:
        fatal.append(reason)
        stop.set()

    runtime = Runtime(settings, on_fatal=give_up)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        app = await runtime.start()
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        base = settings.base_url
        print(f"Switchboard is running: desk {base}/desk  widget demo {base}/demo  health {base}/healthz",
              flush=True)
        if runtime.admin_credentials:
            user, password = runtime.admin_credentials
            print(f"First start: created the admin login  username: {user}  password: {password}", flush=True)
            print("Change it after logging in; it is not shown again.", flush=True)
        print("-- Ctrl-C stops the hub.", flush=True)
        await stop.wait()
        await runner.cleanup()
    finally:
        await runtime.stop()
    if fatal:
        print(f"switchboard: {fatal[0]}", file=sys.stderr, flush=True)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="switchboard", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve_p = sub.add_parser("serve", help="run the hub (embedded database unless MONGODB_URI is set)")
    _serve_args(serve_p)
    serve_p.add_argument("--log-level", default="INFO")

    eval_p = sub.add_parser("nlu-eval", help="train and evaluate the NLU on CSV files (text,category)")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["nlu-eval"]:  # it imports scikit-learn (~1.5 s): not for every admin command's start
        from bot.nlu_eval import add_arguments

        add_arguments(eval_p)

    tg_p = sub.add_parser("telegram", help="Telegram channel tools")
    tg_sub = tg_p.add_subparsers(dest="telegram_command", required=True)
    hook_p = tg_sub.add_parser("set-webhook", help="point each configured bot's webhook at this hub")
    _serve_args(hook_p)
    from channels.telegram.cli import add_arguments as telegram_args

    telegram_args(hook_p)

    from switchboard.users_cli import add_arguments as users_args

    users_args(sub, _admin_args)
    from switchboard.config_cli import add_arguments as config_args

    config_args(sub, _admin_args)
    from switchboard.kb_cli import add_arguments as kb_args

    kb_args(sub)

    from switchboard.privacy_cli import add_arguments as privacy_args

    privacy_args(sub, _admin_args)

    from switchboard.backup_cli import add_arguments as backup_args

    backup_args(sub, _admin_args)

    from switchboard.metrics_cli import add_arguments as metrics_args

    metrics_args(sub, _admin_args)

    from switchboard.bench_cli import add_arguments as bench_args

    bench_args(sub, _admin_args)

    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
            return asyncio.run(serve(settings_from(args)))
        if args.command == "nlu-eval":
            from bot.nlu_eval import run_parsed

            return run_parsed(args)
        if args.command == "kb-eval":
            from switchboard.kb_cli import run as kb_run

            return kb_run(args)
        if args.command == "telegram":
            from channels.telegram.cli import run as telegram_run

            settings = settings_from(args)
            return asyncio.run(telegram_run(args, settings.channels.get("telegram") or {}, settings.public_url))
        if args.command == "users":
            from switchboard.users_cli import run as users_run

            return asyncio.run(users_run(args, settings_from(args)))
        if args.command == "config":
            from switchboard.config_cli import run as config_run

            return asyncio.run(config_run(args, settings_from(args)))
        if args.command == "bench":
            from switchboard.bench_cli import run as bench_run

            return bench_run(args)
        if args.command == "metrics":
            from switchboard.metrics_cli import run as metrics_run

            return asyncio.run(metrics_run(args, settings_from(args)))
        if args.command in ("contacts", "retention"):
            from switchboard.privacy_cli import run as privacy_run

            return asyncio.run(privacy_run(args, settings_from(args)))
        if args.command in ("backup", "restore"):
            from switchboard.backup_cli import run as backup_run

            return asyncio.run(backup_run(args, settings_from(args)))
    except ConfigError as exc:
        print(f"switchboard: {exc}", file=sys.stderr)
        return 2
    except SchemaTooNew as exc:  # this release is older than the database: one line, no traceback
        print(f"switchboard: {exc}", file=sys.stderr)
        return 1
    except EmbeddedError as exc:  # the embedded database could not start: one line, no traceback
        print(f"switchboard: {exc}", file=sys.stderr)
        return 1
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
