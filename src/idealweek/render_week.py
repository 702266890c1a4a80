"""The week a command asks for, drawn: ``idealweek week`` and ``run --once`` on standard output, ``--html``/``--svg``.

It picks the events and the plan that cover the week (a past week is planned again as of its end)
and hands them to the forms in :mod:`idealweek.render`, :mod:`idealweek.render_grid` and
:mod:`idealweek.render_svg`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from idealweek.model import Event
from idealweek.planner import Plan
from idealweek.render import WeekView, render_ledger_text, render_week_text, week_view

if TYPE_CHECKING:
    from idealweek.engine import CycleReport, Engine


def view_for(engine: Engine, report: CycleReport, label: str = "", offset: int = 0) -> WeekView | None:
    """The week a command asks for (an ISO week ``label`` and/or ``offset`` weeks from this one)."""
    from idealweek.week import resolve_week

    if report.plan is None:
        return None
    zone = engine.settings.zone
    start = resolve_week(report.at, zone, label, offset)
    events = week_events(engine, report.plan, start)
    plan = plan_covering(engine, report.plan, events, start)
    return week_view(plan, events, start, zone, engine.settings.category_title, report.at)


def week_events(engine: Engine, plan: Plan, start: datetime) -> Sequence[Event]:
    """The events a picture of the week at ``start`` needs: the cycle's own (in memory) for a week the
    plan covers, else everything in the event cache (a past week is planned again as of its end)."""
    lookback = plan.now - engine.settings.longest_within - timedelta(days=1)
    if start >= lookback and engine.holds(start, start + timedelta(days=7, hours=2)):
        return engine.events()
    return engine.store.events()


def plan_covering(engine: Engine, plan: Plan, events: Sequence[Event], start: datetime) -> Plan:
    """A plan that sees the whole week at ``start``: a past week is planned again as of its end."""
    from idealweek.engine import plan_input
    from idealweek.planner import plan as make_plan

    s = engine.settings
    lookback = plan.now - s.longest_within - timedelta(days=1)
    if start >= lookback:
        return plan
    store = engine.store
    week_end = start + timedelta(days=7, hours=2)
    inp = plan_input(store, min(week_end, plan.now), s, events)
    return make_plan(inp)


def print_week(engine: Engine, report: CycleReport, label: str = "", offset: int = 0) -> None:
    """The week on standard output, as ``idealweek week`` and ``run --once`` show it: the grid (in colour on a
    terminal) with the week's figures, the agenda with the time now marked, and the debt ledger."""
    import sys

    from idealweek.render_grid import render_grid_rich, render_grid_text
    from idealweek.week import resolve_week

    if report.plan is None:
        return
    zone = engine.settings.zone
    titles = engine.settings.category_title
    start = resolve_week(report.at, zone, label, offset)
    events = week_events(engine, report.plan, start)
    plan = plan_covering(engine, report.plan, events, start)
    view = week_view(plan, events, start, zone, titles, report.at)
    if sys.stdout.isatty():
        from rich.console import Console

        Console().print(render_grid_rich(view))
    else:
        print(render_grid_text(view))
    print()
    print(render_week_text(plan, events, start, zone, titles, summary=False, now=report.at))
    print()
    print(render_ledger_text(plan, zone))
    print()


def write_week_files(
    engine: Engine, report: CycleReport, *, html: str | None, svg: str | None, label: str = "", offset: int = 0
) -> None:
    """``idealweek week --html FILE / --svg FILE``: write self-contained pictures of the week."""
    from pathlib import Path

    from idealweek.fsutil import atomic_write
    from idealweek.render_svg import week_html, week_svg

    view = view_for(engine, report, label, offset)
    if view is None:
        return
    # The picture shows the titles of your events: mode 600, like everything idealweek writes.
    if html:
        atomic_write(Path(html), week_html(view))
        print(f"wrote {html}")
    if svg:
        atomic_write(Path(svg), week_svg(view, standalone=True))
        print(f"wrote {svg}")
