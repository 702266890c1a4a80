"""Command line: argument parsing, exit codes, output.  No planning logic here.

Heavy libraries are imported inside the commands so ``idealweek --help`` is fast.
Exit codes: 0 success, 1 runtime failure, 2 bad usage or bad config.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from idealweek.cli_parser import parser as _parser

if TYPE_CHECKING:
    from idealweek.app import App
    from idealweek.engine import CycleReport


def cmd_config(args: argparse.Namespace) -> int:
    from idealweek import config as cfg

    if args.config_command == "schema":
        print(json.dumps(cfg.json_schema(), indent=2, sort_keys=True))
        return 0
    path = Path(args.config) if args.config else cfg.default_config_path()
    s = cfg.load(path)
    print(
        f"{path}: ok — {len(s.calendars)} calendars, {len(s.protect)} protect rules, "
        f"{len(s.categories)} categories, time zone {s.timezone}"
    )
    gaps = cfg.what_is_missing(s)
    if gaps:
        print("  valid, but it does nothing yet:" if not s.calendars else "  notes:")
        for gap in gaps:
            print(f"  - {gap}")
    return 0


def cmd_run(app: App, args: argparse.Namespace) -> int:
    if not args.once:
        from idealweek import daemon

        gc.enable()  # the daemon runs for months: its cyclic garbage is collected (main turned that off)
        return daemon.run_forever(app, force=args.force)
    from idealweek.render_status import render_cycle_text

    store = app.open_store()
    try:
        engine = app.engine(store)
        engine.on_lock_wait = lambda pid: _tell_waiting(pid, app.settings.safety.lock_wait.total_seconds())
        with _progress("Syncing calendars"):
            report = engine.cycle(force=args.force)
        from idealweek.alerts.hook import AlertHook

        AlertHook(app.config_path).after_cycle(app.settings, store, report)
        _log_summary(report)
        if not args.quiet:
            from idealweek.render_week import print_week

            print_week(engine, report)
        print(render_cycle_text(report, app.settings.zone))
        return 0 if report.ok else 1
    finally:
        store.close()


def _tell_waiting(pid: int | None, configured: float) -> None:
    from idealweek.lock import default_wait

    who = f"pid {pid}" if pid else "another process"
    print(
        f"waiting for another idealweek ({who}) to finish its cycle (up to {default_wait(configured):.0f} s)…",
        file=sys.stderr,
        flush=True,
    )


def _progress(description: str) -> AbstractContextManager[object]:
    """A progress display around long work: on a terminal only, and only after a second."""
    from idealweek.progress import progress

    return progress(description)


def _log_summary(report: CycleReport) -> None:
    import structlog

    structlog.get_logger("idealweek").info("cycle", **report.summary())


def cmd_plan(app: App, args: argparse.Namespace) -> int:
    from idealweek.render_status import render_cycle_text

    store = app.open_snapshot()
    try:
        with _progress("Reading calendars"):
            report = app.engine(store).cycle(dry_run=True, force=args.force)
        print(render_cycle_text(report, app.settings.zone))
        return 0 if report.ok else 1
    finally:
        store.close()


def cmd_status(app: App, args: argparse.Namespace) -> int:
    from idealweek.render_status import render_status_json, render_status_text, status_data
    from idealweek.settling import pending_streak, planned_ops, settle_text

    store = app.open_snapshot()
    try:
        with _progress("Reading calendars"):
            report = app.engine(store).cycle(dry_run=True)
        data = status_data(report, app.settings)
        data["sync"] = settle_text(len(report.ops), pending_streak(planned_ops(store.recent_cycles(1000))))
        print(render_status_json(data) if args.json else render_status_text(data))
        if not args.json:
            print(f"  sync: {data['sync']}")
        return 0 if report.ok else 1
    finally:
        store.close()


def cmd_week(app: App, args: argparse.Namespace) -> int:
    from idealweek.render_week import print_week, write_week_files

    store = app.open_snapshot()
    try:
        engine = app.engine(store)
        with _progress("Reading calendars"):
            report = engine.cycle(dry_run=True)
        offset = 1 if args.next else -1 if args.prev else 0
        if args.html or args.svg:
            write_week_files(engine, report, html=args.html, svg=args.svg, label=args.week or "", offset=offset)
            return 0
        print_week(engine, report, args.week or "", offset)
        return 0 if report.ok else 1
    finally:
        store.close()


def cmd_review(app: App, args: argparse.Namespace) -> int:
    """``idealweek review [--weeks N] [--html FILE] [--json] [--digest | --compare]``: figures of past weeks."""
    from datetime import datetime

    from idealweek.errors import IdealweekError
    from idealweek.review import render_html, render_json, render_table, review_rows

    store = app.open_snapshot()
    try:
        now: datetime
        try:
            engine = app.engine(store)
            with _progress("Reading calendars"):
                report = engine.cycle(dry_run=True)
            now = report.at
        except IdealweekError as exc:
            print(f"warning: could not refresh this week ({exc}); showing the recorded figures", file=sys.stderr)
            from idealweek.clock import system_clock

            now = system_clock()
        if args.digest or args.compare:
            from idealweek.review import digest_or_compare

            return digest_or_compare(app.settings, store, now, args.digest, args.json, args.html)
        rows = review_rows(store, now, app.settings, args.weeks)
        if args.json:
            print(render_json(rows))
            return 0
        if args.html:
            from idealweek.fsutil import atomic_write

            atomic_write(Path(args.html), render_html(rows))  # mode 600: private figures
            print(f"wrote {args.html}")
            return 0
        print(render_table(rows))
        return 0
    finally:
        store.close()


def cmd_auth(app: App, args: argparse.Namespace) -> int:
    from idealweek import auth

    return auth.command(
        app,
        args.auth_command,
        args.account,
        port=getattr(args, "port", 0),
        open_browser=not getattr(args, "no_browser", False),
        file=getattr(args, "file", None),
        force=getattr(args, "force", False),
        encrypt=getattr(args, "encrypt", None),
        passphrase_file=getattr(args, "passphrase_file", None),
        password_stdin=getattr(args, "password_stdin", False),
    )


def cmd_calendars(app: App, args: argparse.Namespace) -> int:
    from idealweek import auth

    return auth.calendars_command(app, args.account)


def cmd_secrets(args: argparse.Namespace) -> int:
    """``secrets new-key``: needs no config (the key usually comes before the config on a server)."""
    from idealweek import secrets

    if args.file:
        path = Path(args.file).expanduser()
        secrets.write_new_key(path)
        print(f"wrote a new key to {path} (mode 600); keep a copy somewhere safe", file=sys.stderr)
    else:
        print(secrets.generate_key())
    return 0


def cmd_alerts(app: App, args: argparse.Namespace) -> int:
    from idealweek.alerts.command import command

    return command(app, args.alerts_command, getattr(args, "name", ""))


def cmd_doctor(app: App, args: argparse.Namespace) -> int:
    from idealweek import doctor

    return doctor.run(app)


COMMANDS: dict[str, Callable[[App, argparse.Namespace], int]] = {
    "run": cmd_run,
    "plan": cmd_plan,
    "status": cmd_status,
    "week": cmd_week,
    "review": cmd_review,
    "auth": cmd_auth,
    "calendars": cmd_calendars,
    "doctor": cmd_doctor,
    "alerts": cmd_alerts,
}


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "config":
        return cmd_config(args)
    if args.command == "secrets":
        return cmd_secrets(args)
    from idealweek.app import App

    app = App.load(args.config, args.log_level, args.log_format)
    return COMMANDS[args.command](app, args)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit code.

    A command runs once and ends: the cyclic garbage collector would walk every object the imports and a
    sync's pages made, again and again, to free almost nothing (~10 % of a first sync's CPU, ~5 % of a
    steady run's; issue 15).  It is off while a command runs (the daemon turns it back on) and restored
    after, for callers in-process.

    Run as the program (no ``argv``: the ``idealweek`` script, ``python -m idealweek.cli``), the interpreter
    ends next: what the command made is frozen out of the collector's reach first, so the interpreter's
    shutdown does not walk it all again in its own collections (a 10,000-event first run's exit ~50 -> ~8 ms).
    Modules are still torn down and what they hold freed (and closed) as before; only garbage held in reference
    cycles, which the command already left to the end, is now left to the operating system.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _main(argv)
    finally:
        if collecting:
            gc.enable()
        if argv is None:
            gc.freeze()


def _main(argv: Sequence[str] | None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version (0) and usage errors (2): a code, also for callers in-process
        return exc.code if isinstance(exc.code, int) else 2
    from idealweek.errors import ConfigError, IdealweekError

    try:
        code = _dispatch(args)
        sys.stdout.flush()  # a closed pipe shows here, where it is handled, not at interpreter exit
        return code
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 2
    except IdealweekError as exc:
        from idealweek.log import redact_text

        print(redact_text(f"idealweek: {exc}"), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("idealweek: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `idealweek week | head`: the reader has what it wanted; end quietly, as the Unix tools do.
        _silence_stdout()
        return 0
    except Exception as exc:  # noqa: BLE001 - last resort: one clear line, no traceback
        import logging
        import traceback

        if logging.getLogger().isEnabledFor(logging.DEBUG) or "--log-level=debug" in (argv or sys.argv):
            traceback.print_exc()
        from idealweek.log import redact_text

        print(
            redact_text(f"idealweek: internal error: {type(exc).__name__}: {exc}")
            + " (run with --log-level debug for details)",
            file=sys.stderr,
        )
        return 1


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail on the closed pipe again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
