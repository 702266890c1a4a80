"""Command line: argument parsing, exit codes, output.  No planning logic here.

Heavy libraries are imported inside the commands so ``idealweek --help`` is fast.
Exit codes: 0 success, 1 runtime failure, 2 bad usage or bad config.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from idealweek import __version__

if TYPE_CHECKING:
    from idealweek.app import App
    from idealweek.engine import CycleReport


def _common(default: object) -> argparse.ArgumentParser:
    """The options every command takes, before or after the command's name."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", metavar="PATH", default=default, help="config file (default $IDEALWEEK_CONFIG, then XDG)"
    )
    common.add_argument(
        "--log-level", choices=["debug", "info", "warning", "error"], default=default, help="override log.level"
    )
    common.add_argument(
        "--log-format", choices=["auto", "console", "json"], default=default, help="override log.format"
    )
    return common


def _week_label(value: str) -> str:
    """``--week``: an ISO week that exists (a usage error otherwise, exit 2)."""
    from idealweek.week import week_monday

    try:
        week_monday(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value.strip().upper()


def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def _parser() -> argparse.ArgumentParser:
    # Before the command the options default to None; after it they default to "not given" (SUPPRESS), so a
    # subcommand never overwrites `idealweek --config X run` with its own empty default.
    common = _common(argparse.SUPPRESS)

    p = argparse.ArgumentParser(
        prog="idealweek",
        description="Defend your ideal week: protect personal time on your calendars and book back "
        "what meetings take from it (the catch-up rule).",
        parents=[_common(None)],
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    run = sub.add_parser("run", parents=[common], help="the daemon: sync cycles forever (--once for one cycle)")
    run.add_argument("--once", action="store_true", help="run a single cycle and exit")
    run.add_argument("--force", action="store_true", help="override the mass-deletion and empty-source guards")
    run.add_argument("--quiet", action="store_true", help="print no week picture after --once")

    pl = sub.add_parser("plan", parents=[common], help="one cycle in dry-run mode: print the operations it would apply")
    pl.add_argument("--force", action="store_true", help="show what would happen without the guards")

    st = sub.add_parser("status", parents=[common], help="this week's intrusions, debt, make-ups and focus hours")
    st.add_argument("--json", action="store_true", help="machine-readable output")

    wk = sub.add_parser("week", parents=[common], help="a picture of the week (terminal, --html FILE, --svg FILE)")
    g = wk.add_mutually_exclusive_group()
    g.add_argument("--week", metavar="YYYY-Www", type=_week_label, help="which ISO week (default: this week)")
    g.add_argument("--next", action="store_true", help="next week")
    g.add_argument("--prev", action="store_true", help="previous week")
    wk.add_argument("--html", metavar="FILE", help="write a self-contained HTML page")
    wk.add_argument("--svg", metavar="FILE", help="write a self-contained SVG picture")

    rv = sub.add_parser("review", parents=[common], help="statistics over past weeks (table and chart)")
    rv.add_argument("--weeks", type=_positive, default=8, metavar="N", help="how many weeks (default 8)")
    rv.add_argument("--html", metavar="FILE", help="write an HTML page with charts")
    rv.add_argument("--json", action="store_true", help="machine-readable output")
    rvm = rv.add_mutually_exclusive_group()
    rvm.add_argument("--digest", action="store_true", help="the weekly digest: last week against the 4 before")
    rvm.add_argument("--compare", action="store_true", help="versions of the ideal week side by side")

    al = sub.add_parser("alerts", parents=[common], help="send a test alert; store a secret of an alert URL")
    alsub = al.add_subparsers(dest="alerts_command", metavar="ACTION")
    alsub.required = True
    alsub.add_parser("test", parents=[common], help="send one test message to every [alerts] URL")
    als = alsub.add_parser("secret", parents=[common], help="store the value of {secret:NAME} (from stdin or a prompt)")
    als.add_argument("name")

    au = sub.add_parser("auth", parents=[common], help="sign in to an account; move a sign-in to a server")
    ausub = au.add_subparsers(dest="auth_command", metavar="ACTION")
    ausub.required = True
    ag = ausub.add_parser("google", parents=[common], help="sign in to a Google account (browser, loopback)")
    ag.add_argument("account")
    ag.add_argument("--port", type=int, default=0, help="loopback port for the redirect (for SSH port forwards)")
    ag.add_argument("--no-browser", action="store_true", help="print the URL instead of opening a browser")
    ao = ausub.add_parser("outlook", parents=[common], help="sign in to a Microsoft 365 account (device code)")
    ao.add_argument("account")
    ac = ausub.add_parser("caldav", parents=[common], help="store the password of a CalDAV account (iCloud, …)")
    ac.add_argument("account")
    ac.add_argument("--password-stdin", action="store_true", help="read the password from one line of standard input")
    ae = ausub.add_parser("export", parents=[common], help="print a sign-in for `auth import` on another machine")
    ae.add_argument("account")
    ae.add_argument("--file", metavar="FILE", help="write to a new FILE (mode 600) instead of standard output")
    ae.add_argument("--force", action="store_true", help="replace FILE if it exists")
    ae.add_argument(
        "--encrypt",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="encrypt with a passphrase (default: yes when standard input is a terminal)",
    )
    ae.add_argument("--passphrase-file", metavar="FILE", help="read the passphrase from the first line of FILE")
    ai = ausub.add_parser("import", parents=[common], help="store a sign-in made on another machine")
    ai.add_argument("account")
    ai.add_argument("--file", metavar="FILE", help="read from FILE instead of standard input")
    ai.add_argument("--passphrase-file", metavar="FILE", help="passphrase of an encrypted export (first line of FILE)")
    ai.add_argument("--force", action="store_true", help="accept a sign-in exported under another account name")

    cl = sub.add_parser("calendars", parents=[common], help="list the calendars of an account with their ids")
    cl.add_argument("account")

    cf = sub.add_parser("config", parents=[common], help="check a config; print its JSON schema")
    cfsub = cf.add_subparsers(dest="config_command", metavar="ACTION")
    cfsub.required = True
    cfsub.add_parser("check", parents=[common], help="validate the config (exit 0 valid, 2 invalid)")
    cfsub.add_parser("schema", parents=[common], help="print the JSON Schema of the config")

    sub.add_parser("doctor", parents=[common], help="check config, secret store, reachability, state, clock")

    se = sub.add_parser("secrets", parents=[common], help="manage the key of the encrypted secret store")
    sesub = se.add_subparsers(dest="secrets_command", metavar="ACTION")
    sesub.required = True
    nk = sesub.add_parser("new-key", parents=[common], help="print a new key, or write it to --file with mode 600")
    nk.add_argument("--file", metavar="FILE", help="write the key to FILE (mode 600; never overwrites)")
    return p


# -- commands ----------------------------------------------------------------------


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

        return daemon.run_forever(app, force=args.force)
    from idealweek.render_status import render_cycle_text
    from idealweek.render_week import print_week

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
