"""Mirror tags name nothing personal: an opaque keyed hash, a key kept beside the state, old tags replaced."""

from __future__ import annotations

import dataclasses
import re
import stat
from pathlib import Path

from idealweek.model import Kind, OpKind
from idealweek.planner.keys import REKEYED, is_legacy_mirror_key, mirror_key
from idealweek.store import MIRROR_KEY_NAME, Store
from tests.scenario import meeting
from tests.test_engine import World, at

SOURCE = "personal:oncology_clinic:chemo-cycle-3@clinic.example"


def test_mirror_key_is_an_opaque_keyed_hash() -> None:
    """The same source and secret give the same key; nothing of the source shows; another secret, another key."""
    one = mirror_key(SOURCE, b"k" * 32)
    assert one == mirror_key(SOURCE, b"k" * 32)
    assert re.fullmatch(r"mirror:[a-z2-7]{26}", one)
    assert not any(part in one for part in ("oncology", "chemo", "clinic", "personal"))
    assert mirror_key(SOURCE, b"j" * 32) != one
    assert mirror_key(SOURCE + "x", b"k" * 32) != one
    assert not is_legacy_mirror_key(one) and is_legacy_mirror_key(f"mirror:{SOURCE}#g2")


def test_state_keeps_one_private_mirror_key_that_survives_the_database(tmp_path: Path) -> None:
    """The first writer creates a 0600 key file; it outlives the database; a look without one writes nothing."""
    look = Store.open_snapshot(tmp_path / "state.sqlite3")
    assert len(look.mirror_secret) == 32 and not (tmp_path / MIRROR_KEY_NAME).exists()
    store = Store(tmp_path / "state.sqlite3")
    secret = store.mirror_secret
    key_file = tmp_path / MIRROR_KEY_NAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    store.close()
    (tmp_path / "state.sqlite3").unlink()
    again = Store(tmp_path / "state.sqlite3")
    assert again.mirror_secret == secret
    assert Store.open_snapshot(tmp_path / "state.sqlite3").mirror_secret == secret


def test_mirrors_written_by_an_older_version_are_rekeyed_without_tripping_the_guard(tmp_path: Path) -> None:
    """Mirrors whose tags name their source are replaced by opaque ones in one cycle, not as a mass deletion."""
    world = World(tmp_path)
    world.work.user_put(meeting(at(0, 17, 30), 60, uid="late"))
    world.engine.cycle()
    mirrors = world.owned(world.work, Kind.MIRROR)
    assert len(mirrors) >= 5
    for ev in mirrors:  # what an older idealweek wrote: the source's key in the tag
        assert ev.tag is not None
        legacy = dataclasses.replace(ev.tag, key=f"mirror:block:family@{ev.uid}")
        world.work.events[ev.uid] = dataclasses.replace(ev, tag=legacy)
    world.store = Store(tmp_path / "upgraded" / "state.sqlite3")  # the state an older version kept knows no opaque key
    world.engine = world.make_engine()
    report = world.engine.cycle()
    deletes = [op for op in report.ops if op.kind == OpKind.DELETE]
    assert deletes and all(op.reason == REKEYED for op in deletes)
    assert len([op for op in report.ops if op.kind == OpKind.CREATE]) == len(deletes)
    after = world.owned(world.work, Kind.MIRROR)
    assert len(after) == len(mirrors)
    assert all(e.tag is not None and not is_legacy_mirror_key(e.tag.key) for e in after)
    assert world.engine.cycle().ops == []


def test_a_lost_mirror_key_rekeys_mirrors_once_without_tripping_the_guard(tmp_path: Path) -> None:
    """With the state directory lost, every future mirror is replaced once under the new key, then all is quiet."""
    world = World(tmp_path)
    world.work.user_put(meeting(at(0, 17, 30), 60, uid="late"))
    world.engine.cycle()
    before = {(e.start, e.end) for e in world.owned(world.work, Kind.MIRROR)}
    world.store = Store(tmp_path / "new-state" / "state.sqlite3")
    world.engine = world.make_engine()
    report = world.engine.cycle()
    deletes = [op for op in report.ops if op.kind == OpKind.DELETE]
    assert deletes and all(op.reason == REKEYED for op in deletes)
    assert {(e.start, e.end) for e in world.owned(world.work, Kind.MIRROR)} == before
    world.assert_no_duplicates()
    assert world.engine.cycle().ops == []
