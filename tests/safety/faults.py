"""The fault matrix: each fault × each step of a cycle × Google and Outlook, against the fakes, in-process.

A cell prepares a world so that its cycle has the step to do (read; create a
make-up and its mirror; set an owned event right again; delete a make-up and
its mirror), injects the fault on that step of the faulted service only, runs
one cycle and classifies it:

* ``completed`` — the cycle absorbed the fault (retry, refresh, resync);
* ``stopped: …`` — the calendar was reported as failed, cleanly (no exception);
* ``conflict`` — the write was skipped as changed meanwhile and decided again
  next cycle.

Then, with the fault gone, clean cycles must reach a quiet cycle; no owned
event may be duplicated, no user event touched, the ledger conserved; and
where the user did not act during the cycle the calendars must equal a twin
world that never saw the fault.

Run ``python -m tests.safety.faults`` to print the matrix as Markdown.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, unquote

from idealweek.engine import CycleReport
from idealweek.model import Kind
from idealweek.store import Store
from tests.fakes.google_server import Fault as GFault
from tests.fakes.graph_server import Fault as OFault
from tests.safety.world import Services, World, at, is_event_write

STEPS = ("read", "create", "update", "delete")
FAULTS = (
    "429 Retry-After",
    "429",
    "403 rate limit",
    "500",
    "503",
    "timeout",
    "dropped connection",
    "lost answer",
    "401 expired token",
    "invalid_grant",
    "410 expired token/gone",
    "409 duplicate",
    "412 etag mismatch",
)
SERVICES = ("google", "outlook")

NOT_APPLICABLE: dict[tuple[str, str, str], str] = {}
for _svc in SERVICES:
    for _step in ("create", "update", "delete"):
        NOT_APPLICABLE[(_svc, "invalid_grant", _step)] = "refresh happens before the first request (read)"
    NOT_APPLICABLE[(_svc, "412 etag mismatch", "read")] = "reads send no If-Match"
    NOT_APPLICABLE[(_svc, "412 etag mismatch", "create")] = "creates send no If-Match"
    NOT_APPLICABLE[(_svc, "409 duplicate", "read")] = "reads cannot conflict"
    NOT_APPLICABLE[(_svc, "410 expired token/gone", "create")] = "no token or prior event on create"
    NOT_APPLICABLE[(_svc, "410 expired token/gone", "update")] = "covered by delete (gone event)"
NOT_APPLICABLE[("google", "409 duplicate", "update")] = "Google answers 409 only to inserts"
NOT_APPLICABLE[("google", "409 duplicate", "delete")] = "Google answers 409 only to inserts"

CONCURRENT = {"412 etag mismatch", "410 expired token/gone"}
"""Faults produced by the user acting during the cycle (no twin comparison for their write steps)."""


def cells() -> list[tuple[str, str, str]]:
    return [(s, f, st) for s in SERVICES for f in FAULTS for st in STEPS if (s, f, st) not in NOT_APPLICABLE]


# -- preparing a step -----------------------------------------------------------------------


def prepare(world: World, step: str) -> None:
    """Bring ``world`` to the point where its next cycle has ``step`` to do on both services."""
    world.settle()
    if step in ("read", "create"):
        world.add_google_meeting(at(1, 17, 30), at(1, 18, 30))
        world.add_outlook_meeting(at(2, 17, 30), at(2, 18, 30))
    elif step == "update":
        g = [raw for tag, raw in world.google_owned() if tag.kind == Kind.BLOCK]
        world.svc.google.user_update(world.gcal, g[-1]["id"], transparency="transparent")
        o = [ev for tag, ev in world.graph_owned() if tag.kind == Kind.MIRROR]
        world.svc.graph.user_patch(o[-1].id, showAs="free")
    else:
        world.add_google_meeting(at(1, 17, 30), at(1, 18, 30))
        world.settle()
        world.cancel_meeting(0)


def _google_path(world: World) -> str:
    return f"/calendars/{quote(world.gcal, safe='')}/events"


def _graph_path(world: World) -> str:
    return f"/calendars/{quote(world.ocal, safe='')}/"


METHOD = {"read": "GET", "create": "POST", "update": "PATCH", "delete": "DELETE"}


class OnceHook:
    """A fake hook that runs ``action`` once, before the first request matching the step."""

    def __init__(self, match: Callable[[str, str], bool], action: Callable[[str, str], None]) -> None:
        self.match = match
        self.action = action
        self.done = False

    def __call__(self, method: str, path: str, phase: str) -> None:
        if phase == "before" and not self.done and self.match(method, path):
            self.done = True
            self.action(method, path)


def inject(world: World, service: str, fault: str, step: str) -> tuple[Callable[[], None], Any]:
    """Arm ``fault``; returns (undo, engine options)."""
    svc = world.svc
    method = METHOD[step]
    options: dict[str, Any] = {}
    g, o = svc.google, svc.graph
    gpath, opath = _google_path(world), _graph_path(world)

    def matches(m: str, p: str) -> bool:
        if m != method:
            return False
        if service == "google":
            return gpath in p and (step != "read" or p.endswith("/events"))
        return opath in p and (step != "read" or "calendarView" in p) and (step == "read" or is_event_write(m, p))

    def undo() -> None:
        hook = g.hook or o.hook
        left = len(g.faults) + len(o.faults)
        g.hook = o.hook = None
        g.faults.clear()
        o.faults.clear()
        assert left == 0 and (hook is None or hook.done), f"{service} {fault} at {step}: the fault never fired"

    omatch = f"{method} /v1.0/me{opath}"
    simple = {
        "429 Retry-After": (GFault(429, "rateLimitExceeded", retry_after="1"), OFault(429, 1, "TooManyRequests")),
        "429": (GFault(429, "rateLimitExceeded"), OFault(429, None, "TooManyRequests")),
        "403 rate limit": (GFault(403, "userRateLimitExceeded"), OFault(403, None, "ErrorAccessDenied")),
        "500": (GFault(500, "backendError"), OFault(500, None, "InternalServerError")),
        "503": (GFault(503, "backendError"), OFault(503, None, "ServiceUnavailable")),
        "dropped connection": (GFault(drop=True), OFault(drop=True)),
        "lost answer": (GFault(drop=True, after=True), OFault(drop_after=True)),
        "409 duplicate": (GFault(409, "duplicate"), OFault(409, None, "ErrorIrresolvableConflict")),
    }
    if fault == "409 duplicate" and service == "google":
        # As Google produces it: our own insert of that id went through but its answer was lost;
        # the retried insert is refused with 409 (checked by the cell).
        g.faults.append(GFault(drop=True, after=True, method=method, path=gpath))
        options["expect_status"] = 409
        return undo, options
    if fault in simple:
        gf, of = simple[fault]
        if service == "google":
            gf.method, gf.path = method, gpath
            g.faults.append(gf)
        else:
            of.match = omatch
            if step == "read":
                of.match = "GET /v1.0/me" + opath + "calendarView"
            o.inject(of)
        return undo, options
    if fault == "timeout":
        options["timeout"] = 0.5
        hook = OnceHook(matches, lambda m, p: time.sleep(1.2))
        if service == "google":
            g.hook = hook
        else:
            o.hook = hook
        return undo, options
    if fault == "401 expired token":
        if service == "google":
            g.hook = OnceHook(matches, lambda m, p: g.expire_access_tokens())
        else:
            o.inject(OFault(401, None, "InvalidAuthenticationToken", match=omatch if step != "read" else "GET"))
        return undo, options
    if fault == "invalid_grant":
        if service == "google":
            g.revoke_refresh_tokens()
        else:
            options["real_outlook_sign_in"] = True
        return undo, options
    if fault == "410 expired token/gone":
        if step == "read":
            if service == "google":
                g.expire_sync_tokens(world.gcal)
            else:
                o.expire_delta_tokens()
            return undo, options

        def gone(m: str, p: str) -> None:  # the user deletes the event we are about to delete
            if service == "google":
                g.user_delete(world.gcal, unquote(p.rsplit("/", 1)[1]))
            else:
                o.user_delete(unquote(p.rsplit("/", 1)[1]))

        hook = OnceHook(matches, gone)
        if service == "google":
            g.hook = hook
        else:
            o.hook = hook
        return undo, options
    if fault == "412 etag mismatch":

        def edit(m: str, p: str) -> None:  # the user edits the event between our read and our write
            eid = unquote(p.rsplit("/", 1)[1])
            if service == "google":
                g.user_update(world.gcal, eid, description="the user's note")
            else:
                o.user_patch(eid, body={"contentType": "text", "content": "the user's note"})

        hook = OnceHook(matches, edit)
        if service == "google":
            g.hook = hook
        else:
            o.hook = hook
        return undo, options
    raise AssertionError(fault)


# -- one cell --------------------------------------------------------------------------------


def classify(report: CycleReport, service: str) -> str:
    name = "gwork" if service == "google" else "owork"
    if name in report.failed:
        return "stopped: " + report.failed[name][:90]
    if any("changed meanwhile" in n for n in report.notes):
        return "conflict (decided again next cycle)"
    return "completed"


def run_cell(svc: Services, service: str, fault: str, step: str, name: str) -> dict[str, Any]:
    world, twin = svc.world(name), svc.world(name + "-twin")
    prepare(world, step)
    prepare(twin, step)
    twin.settle()
    user = world.user_fingerprint()
    undo, options = inject(world, service, fault, step)
    saved_tokens = set(svc.graph.tokens)
    store = Store(world.db)
    try:
        engine = world.engine(store, real_outlook_sign_in=options.get("real_outlook_sign_in", False))
        _shorten_timeouts(engine, options.get("timeout"))
        if options.get("real_outlook_sign_in"):
            engine.cycle()  # a good cycle first: MSAL caches its token
            svc.authority.revoke_all()
            svc.graph.tokens.clear()  # the cached access token is refused: MSAL must refresh
        report = engine.cycle()
    finally:
        store.close()
    undo()
    if options.get("real_outlook_sign_in"):
        svc.graph.tokens.update(saved_tokens)  # the user signs in again
    if service == "google" and fault == "invalid_grant":
        svc.google_secrets.set("token:g", svc.google.issue_token())  # the user signs in again
    outcome = classify(report, service)
    if "expect_status" in options:
        statuses = [r.status for r in svc.google.requests_to(METHOD[step], _google_path(world))]
        assert options["expect_status"] in statuses, statuses
    for _ in range(2):  # the fault is gone: clean cycles converge
        world.settle()
    dups = world.duplicates()
    assert not dups, f"{name}: duplicates {dups}"
    assert world.user_fingerprint() == user or fault in CONCURRENT, f"{name}: a user event was changed"
    assert not world.ledger_conserved(), f"{name}: ledger not conserved"
    if fault not in CONCURRENT or step == "read":
        mine, theirs = set(world.owned()), set(twin.owned())
        assert mine == theirs, f"{name}: missing {sorted(theirs - mine)[:3]} extra {sorted(mine - theirs)[:3]}"
        assert world.ledger() == twin.ledger(), f"{name}: ledger differs from a clean run"
    else:
        # the user's concurrent edit wins: the event they touched is theirs to keep or lose
        assert {o[:3] for o in world.owned()} <= {o[:3] for o in twin.owned()}
    return {"service": service, "fault": fault, "step": step, "outcome": outcome, "converged": True}


def _shorten_timeouts(engine: Any, timeout: float | None) -> None:
    if timeout is None:
        return
    for prov in engine.providers.values():
        client = getattr(prov, "client", None)
        if client is None:
            continue
        if hasattr(client, "_http"):
            client._http.timeout = timeout
        if hasattr(client, "_timeout"):
            client._timeout = (2.0, timeout)


def markdown(rows: list[dict[str, Any]]) -> str:
    out = ["| service | fault | read | create | update | delete |", "|---|---|---|---|---|---|"]
    by = {(r["service"], r["fault"], r["step"]): r["outcome"] for r in rows}
    for s in SERVICES:
        for f in FAULTS:
            line = [s, f]
            for st in STEPS:
                if (s, f, st) in NOT_APPLICABLE:
                    line.append("n/a")
                else:
                    line.append(by.get((s, f, st), "?") + " → converged")
            out.append("| " + " | ".join(line) + " |")
    return "\n".join(out)


def main() -> None:
    import contextlib
    import logging
    import tempfile
    from pathlib import Path

    import structlog

    from tests.safety.world import services

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    rows = []
    with tempfile.TemporaryDirectory() as tmp, services(Path(tmp)) as svc:
        for i, (s, f, st) in enumerate(cells()):
            with contextlib.suppress(AssertionError):
                rows.append(run_cell(svc, s, f, st, f"c{i}"))
    print(markdown(rows))


if __name__ == "__main__":
    main()
