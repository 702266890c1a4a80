"""The command line's grammar: every command, its options and their checks (``argparse``).

:mod:`idealweek.cli` runs the commands; this module only describes them, so ``idealweek --help``
stays fast and a test can read the grammar without running anything.
"""

from __future__ import annotations

import argparse

from idealweek import __version__


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


def parser() -> argparse.ArgumentParser:
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
