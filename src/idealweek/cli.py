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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from idealweek.config import Settings
    from idealweek.engine import CycleReport, Engine
    from idealweek.secrets import SecretStore
    from idealweek.store import Store


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH", help="config file (default $IDEALWEEK_CONFIG, then XDG)")
    common.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="override log.level")
    common.add_argument("--log-format", choices=["auto", "console", "json"], help="override log.format")

    p = argparse.ArgumentParser(
        prog="idealweek",
        description="Defend your ideal week: protect personal time on your calendars and book back "
        "what meetings take from it (the catch-up rule).",
        parents=[common],
    )
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
    g.add_argument("--week", metavar="YYYY-Www", help="which ISO week (default: this week)")
    g.add_argument("--next", action="store_true", help="next week")
    g.add_argument("--prev", action="store_true", help="previous week")
    wk.add_argument("--html", metavar="FILE", help="write a self-contained HTML page")
    wk.add_argument("--svg", metavar="FILE", help="write a self-contained SVG picture")

    rv = sub.add_parser("review", parents=[common], help="statistics over past weeks (table and chart)")
    rv.add_argument("--weeks", type=int, default=8, metavar="N", help="how many weeks (default 8)")
    rv.add_argument("--html", metavar="FILE", help="write an HTML page with charts")
    rv.add_argument("--json", action="store_true", help="machine-readable output")

    au = sub.add_parser("auth", parents=[common], help="sign in to an account; move a sign-in to a server")
    ausub = au.add_subparsers(dest="auth_command", metavar="ACTION")
    ausub.required = True
    ag = ausub.add_parser("google", parents=[common], help="sign in to a Google account (browser, loopback)")
    ag.add_argument("account")
    ag.add_argument("--port", type=int, default=0, help="loopback port for the redirect (for SSH port forwards)")
    ag.add_argument("--no-browser", action="store_true", help="print the URL instead of opening a browser")
    ao = ausub.add_parser("outlook", parents=[common], help="sign in to a Microsoft 365 account (device code)")
    ao.add_argument("account")
    ae = ausub.add_parser("export", parents=[common], help="print a sign-in for `auth import` on another machine")
    ae.add_argument("account")
    ae.add_argument("--file", metavar="FILE", help="write to FILE instead of standard output")
    ai = ausub.add_parser("import", parents=[common], help="store a sign-in made on another machine")
    ai.add_argument("account")
    ai.add_argument("--file", metavar="FILE", help="read from FILE instead of standard input")

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


# -- context -----------------------------------------------------------------------


@dataclass
class Context:
    args: argparse.Namespace
    config_path: Path
    settings: Settings

    def state_dir(self) -> Path:
        from idealweek.config import state_dir

        return state_dir(self.settings, self.config_path)

    def open_store(self) -> Store:
        from idealweek.store import Store

        store = Store(self.state_dir() / "state.sqlite3")
        if store.moved_aside is not None:
            print(
                f"warning: the state database could not be read and was moved to {store.moved_aside}; "
                "a new one was started (ownership is rebuilt from the event tags).",
                file=sys.stderr,
            )
        return store

    def secrets(self, required: bool = False) -> SecretStore | None:
        from idealweek.providers.factory import needs_secrets
        from idealweek.secrets import open_store

        if not required and not needs_secrets(self.settings):
            return None
        sc = self.settings.secrets
        return open_store(sc.store, self.state_dir(), sc.key_file, sc.credential)

    def engine(self, store: Store) -> Engine:
        from idealweek.engine import Engine
        from idealweek.providers.factory import make_provider

        secrets = self.secrets()
        providers = {
            name: make_provider(self.settings, self.config_path, name, secrets) for name in self.settings.calendars
        }
        return Engine(self.settings, store, providers, config_path=self.config_path)


def _load(args: argparse.Namespace) -> Context:
    from idealweek import config as cfg
    from idealweek import log

    path = Path(args.config) if args.config else cfg.default_config_path()
    settings = cfg.load(path)
    log.setup(args.log_level or settings.log.level, args.log_format or settings.log.format)
    return Context(args, path, settings)


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
    return 0


def _print_report(report: CycleReport, verbose_ops: bool = True) -> None:
    summary = report.summary()
    if verbose_ops:
        if report.ops:
            label = "would apply" if report.dry_run else "applied"
            print(f"Operations ({label}): " + _count_ops(report))
            shown = (
                report.ops
                if len(report.ops) <= 25 or report.dry_run
                else [op for op in report.ops if op.key.startswith(("makeup:", "focus:"))]
            )
            for op in shown:
                print("  " + op.describe())
            if len(shown) < len(report.ops):
                print(
                    f"  … and {len(report.ops) - len(shown)} more (protected blocks and mirrors); "
                    "`idealweek plan` lists every operation"
                )
        else:
            print("Nothing to change: the calendars already match the plan (0 writes).")
    for name, err in sorted(report.failed.items()):
        print(f"  ! {name}: {err}")
    for note in report.notes:
        print(f"  note: {note}")
    for key in report.user_deleted:
        print(f"  you deleted {key}: respected, not recreated")
    print(
        "Cycle: {calendars_read} calendars read, {events_seen} events, {intrusions} intrusions, "
        "open debt {debt_open_min} min, overdue {debt_overdue_min} min, {writes} writes, "
        "{api_requests} requests, {duration_ms} ms".format(**summary)
    )


def _count_ops(report: CycleReport) -> str:
    counts: dict[str, int] = {}
    for op in report.ops:
        what = op.key.split(":", 1)[0]
        name = f"{op.kind.value} {what}"
        counts[name] = counts.get(name, 0) + 1
    return ", ".join(f"{n}× {k}" for k, n in sorted(counts.items()))


def cmd_run(ctx: Context) -> int:
    args = ctx.args
    if not args.once:
        from idealweek import daemon

        return daemon.run_forever(ctx)
    store = ctx.open_store()
    try:
        engine = ctx.engine(store)
        with _progress("Syncing calendars"):
            report = engine.cycle(force=args.force)
        _log_summary(report)
        if not args.quiet:
            _print_week(ctx, engine, report, ahead=True)
        _print_report(report)
        return 0 if report.ok else 1
    finally:
        store.close()


def _progress(description: str) -> AbstractContextManager[object]:
    """A progress display around long work: on a terminal only, and only after a second."""
    from idealweek.progress import progress

    return progress(description)


def _log_summary(report: CycleReport) -> None:
    import structlog

    structlog.get_logger("idealweek").info("cycle", **report.summary())


def _print_week(
    ctx: Context, engine: Engine, report: CycleReport, offset_weeks: int = 0, label: str = "", ahead: bool = False
) -> None:

    from idealweek.render import render_ledger_text, render_week_text
    from idealweek.week import resolve_week

    if report.plan is None:
        return
    zone = ctx.settings.zone
    if ahead:
        local = report.at.astimezone(zone)
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        start = resolve_week(report.at, zone, label, offset_weeks)
    events = engine.store.events()
    plan = report.plan
    if not ahead:
        from idealweek.render import plan_covering, week_view
        from idealweek.render_grid import render_grid_rich, render_grid_text

        plan = plan_covering(engine, plan, events, start)
        view = week_view(plan, events, start, zone)
        if sys.stdout.isatty():
            from rich.console import Console

            Console().print(render_grid_rich(view))
        else:
            print(render_grid_text(view))
        print()
    print(render_week_text(plan, events, start, zone))
    print()
    print(render_ledger_text(plan, zone))
    print()


def cmd_plan(ctx: Context) -> int:
    store = ctx.open_store()
    try:
        with _progress("Reading calendars"):
            report = ctx.engine(store).cycle(dry_run=True, force=ctx.args.force)
        _print_report(report)
        return 0 if report.ok else 1
    finally:
        store.close()


def cmd_status(ctx: Context) -> int:
    from idealweek.week import iso_week_bounds, iso_week_label

    store = ctx.open_store()
    try:
        with _progress("Reading calendars"):
            report = ctx.engine(store).cycle(dry_run=True)
        p = report.plan
        assert p is not None
        zone = ctx.settings.zone
        start, end = iso_week_bounds(report.at, zone)
        this_week = iso_week_label(report.at, zone)
        intr = [i for i in p.intrusions if start <= i.start < end]
        makeups = [m for m in p.makeups if start <= m.start < end]
        focus = [f for f in p.focus if start <= f.start < end]
        debts: dict[str, int] = {"open": 0, "overdue": 0, "scheduled": 0, "waived": 0, "paid": 0}
        for d in p.debts:
            debts["waived"] += d.waived
            debts["paid"] += d.paid
            if d.status.value == "overdue":
                debts["overdue"] += d.unplaced + d.scheduled
            else:
                debts["open"] += d.unplaced
                debts["scheduled"] += d.scheduled
        wk = next((w for w in p.weeks if w.week == this_week), None)
        data: dict[str, Any] = {
            "week": this_week,
            "intrusions": [
                {
                    "block": i.block.id,
                    "category": i.block.category,
                    "policy": i.block.policy.value,
                    "minutes": i.minutes,
                    "start": i.start.astimezone(zone).isoformat(),
                }
                for i in intr
            ],
            "debt_minutes": debts,
            "makeups": [
                {
                    "start": m.start.astimezone(zone).isoformat(),
                    "end": m.end.astimezone(zone).isoformat(),
                    "category": m.tag.category,
                    "pays": dict(m.tag.pays),
                }
                for m in makeups
            ],
            "focus_hours_planned": round((wk.focus_planned_min if wk else 0) / 60, 2),
            "focus_hours_target": round(ctx.settings.focus.weekly_target.total_seconds() / 3600, 2),
            "focus_blocks": len(focus),
            "violations": len([i for i in intr if i.block.policy.value == "hard"]),
            "calendars_failed": report.failed,
        }
        if ctx.args.json:
            print(json.dumps(data, indent=2))
            return 0 if report.ok else 1
        print(f"Week {this_week}")
        print(f"  intrusions: {len(intr)}")
        for i in data["intrusions"]:
            print(f"    {i['start'][:16]}  {i['category']:10} {i['policy']:9} {i['minutes']} min")
        print(
            "  debt: open {open} min, overdue {overdue} min, booked {scheduled} min, waived {waived} min, "
            "paid {paid} min".format(**debts)
        )
        print(f"  make-ups this week: {len(makeups)}")
        for m in data["makeups"]:
            print(f"    {m['start'][:16]}-{m['end'][11:16]}  {m['category']}")
        print(f"  focus: {data['focus_hours_planned']} h planned of {data['focus_hours_target']} h target")
        if data["violations"]:
            print(f"  boundary violations: {data['violations']}")
        for name, err in sorted(report.failed.items()):
            print(f"  ! {name}: {err}")
        return 0 if report.ok else 1
    finally:
        store.close()


def cmd_week(ctx: Context) -> int:
    args = ctx.args
    store = ctx.open_store()
    try:
        engine = ctx.engine(store)
        with _progress("Reading calendars"):
            report = engine.cycle(dry_run=True)
        if args.html or args.svg:
            from idealweek import render

            writer: Callable[..., None] | None = getattr(render, "write_week_files", None)
            if writer is None:
                print("HTML/SVG output is not available in this build", file=sys.stderr)
                return 1
            writer(ctx, engine, report, args)
            return 0
        offset = 1 if args.next else -1 if args.prev else 0
        _print_week(ctx, engine, report, offset, args.week or "")
        return 0 if report.ok else 1
    finally:
        store.close()


def cmd_review(ctx: Context) -> int:
    from idealweek import render

    reviewer: Callable[[Context], int] | None = getattr(render, "review_command", None)
    if reviewer is not None:
        return reviewer(ctx)
    store = ctx.open_store()
    try:
        weeks = store.weeks()
        rows = list(weeks.items())[-ctx.args.weeks :]
        if ctx.args.json:
            print(json.dumps([{"week": w, **d} for w, d in rows], indent=2))
            return 0
        print(f"{'week':9} {'prot h':>7} {'kept h':>7} {'lost h':>7} {'made up':>8} {'focus h':>8} {'meet h':>7}")
        for w, d in rows:

            def h(k: str, d: dict[str, Any] = d) -> str:
                return f"{int(d.get(k, 0)) / 60:.1f}"

            print(
                f"{w:9} {h('protected_min'):>7} {h('kept_min'):>7} {h('lost_min'):>7} {h('made_up_min'):>8} "
                f"{h('focus_planned_min'):>8} {h('meeting_min'):>7}"
            )
        return 0
    finally:
        store.close()


def cmd_auth(ctx: Context) -> int:
    from idealweek import auth

    return auth.command(ctx)


def cmd_calendars(ctx: Context) -> int:
    from idealweek import auth

    return auth.calendars_command(ctx)


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


def cmd_doctor(ctx: Context) -> int:
    from idealweek import doctor

    return doctor.run(ctx)


COMMANDS: dict[str, Callable[[Context], int]] = {
    "run": cmd_run,
    "plan": cmd_plan,
    "status": cmd_status,
    "week": cmd_week,
    "review": cmd_review,
    "auth": cmd_auth,
    "calendars": cmd_calendars,
    "doctor": cmd_doctor,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    from idealweek.errors import ConfigError, IdealweekError

    try:
        if args.command == "config":
            return cmd_config(args)
        if args.command == "secrets":
            return cmd_secrets(args)
        ctx = _load(args)
        return COMMANDS[args.command](ctx)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 2
    except IdealweekError as exc:
        print(f"idealweek: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("idealweek: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - last resort: one clear line, no traceback
        import logging
        import traceback

        if logging.getLogger().isEnabledFor(logging.DEBUG) or "--log-level=debug" in (argv or sys.argv):
            traceback.print_exc()
        print(
            f"idealweek: internal error: {type(exc).__name__}: {exc} (run with --log-level debug for details)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
