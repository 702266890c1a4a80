"""The systemd units: the hardened system unit and the household template rate ≤ 2.0 and every unit verifies."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from idealweek.config import Secrets

UNITS = Path(__file__).resolve().parent.parent / "systemd"
SYSTEM = UNITS / "idealweek-system.service"
USER = UNITS / "idealweek.service"
TEMPLATE = UNITS / "idealweek@.service"
DOCS = [UNITS.parent / "README.md", UNITS.parent / "docs" / "service.md"]
ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(
    ANALYZE is None, reason="systemd-analyze is not installed here (.ci/run installs systemd in CI)"
)


def settings_of(unit: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in unit.read_text().splitlines():
        if line and not line.startswith(("#", "[")) and "=" in line:
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def runnable_copy(unit: Path, folder: Path) -> Path:
    """The unit with ExecStart pointing at this venv's idealweek, so verify can check the command exists
    (a template as its instance ``alice``)."""
    exe = Path(sys.executable).with_name("idealweek")
    text = re.sub(r"^ExecStart=\S+", f"ExecStart={exe}", unit.read_text(), flags=re.M)
    copy = folder / unit.name.replace("@.", "@alice.")
    copy.write_text(text)
    return copy


@needs_analyze
@pytest.mark.parametrize("unit", [SYSTEM, TEMPLATE], ids=["system", "template"])
def test_system_unit_exposure_is_at_most_2(unit: Path, tmp_path: Path) -> None:
    """`systemd-analyze security --offline=true` rates the system unit and the template (as an instance) ≤ 2.0."""
    assert ANALYZE is not None
    res = subprocess.run(
        [ANALYZE, "security", "--offline=true", "--no-pager", str(runnable_copy(unit, tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", res.stdout)
    assert m, res.stdout + res.stderr
    assert float(m.group(1)) <= 2.0, res.stdout


@needs_analyze
@pytest.mark.parametrize("unit", [SYSTEM, USER, TEMPLATE], ids=["system", "user", "template"])
def test_units_verify_cleanly(unit: Path, tmp_path: Path) -> None:
    """`systemd-analyze verify` reports nothing for either unit (with ExecStart set to an existing binary)."""
    assert ANALYZE is not None
    res = subprocess.run(
        [ANALYZE, "verify", "--man=no", str(runnable_copy(unit, tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0 and not res.stderr.strip() and not res.stdout.strip(), res.stdout + res.stderr


def test_units_speak_the_notify_protocol_and_reload_with_sighup() -> None:
    """Every unit is Type=notify with a watchdog and reloads by SIGHUP."""
    for unit in (SYSTEM, USER, TEMPLATE):
        s = settings_of(unit)
        assert s["Type"] == ["notify"] and s["NotifyAccess"] == ["main"]
        assert "kill -HUP $MAINPID" in s["ExecReload"][0]
        assert s["WatchdogSec"] and s["Restart"] == ["on-failure"]


def test_system_unit_hands_the_key_over_as_the_configured_credential() -> None:
    """The system unit is sandboxed and loads the key under the credential name idealweek looks for."""
    s = settings_of(SYSTEM)
    assert s["LoadCredential"][0].split(":")[0] == Secrets().credential
    for key in ("DynamicUser", "NoNewPrivileges", "ProtectHome", "PrivateDevices", "RestrictNamespaces"):
        assert s[key] == ["yes"], key
    assert s["ProtectSystem"] == ["strict"] and s["StateDirectory"] == ["idealweek"]
    assert s["ConfigurationDirectory"] == ["idealweek"]
    assert s["RestrictAddressFamilies"] == ["AF_UNIX AF_INET AF_INET6"]
    assert any(v.startswith("@system-service") for v in s["SystemCallFilter"])


def test_template_gives_each_person_their_own_config_state_user_and_key() -> None:
    """idealweek@NAME: config, state, service user and key are NAME's own, the sandbox the system unit's."""
    t, system = settings_of(TEMPLATE), settings_of(SYSTEM)
    assert t["User"] == ["idealweek-%i"] and t["DynamicUser"] == ["yes"]
    assert t["StateDirectory"] == ["idealweek-%i"] and t["ConfigurationDirectory"] == ["idealweek-%i"]
    assert t["LoadCredential"] == [f"{Secrets().credential}:/etc/idealweek-%i/idealweek.key"]
    personal = {"User", "StateDirectory", "ConfigurationDirectory", "LoadCredential", "Description"}
    assert {k: v for k, v in t.items() if k not in personal} == {k: v for k, v in system.items() if k not in personal}


def test_docs_name_the_units_as_they_are_installed() -> None:
    """README and docs/service.md copy each unit under its own name and start it by that name; the units run
    idealweek from where the documented install (pipx) puts it."""
    names = {p.name for p in UNITS.glob("*.service")}
    for doc in [*DOCS, *UNITS.glob("*.service")]:
        text = doc.read_text()
        for src, dest in re.findall(r"cp systemd/(\S+) (\S+)", text):
            assert src in names, (doc.name, src)
            assert dest.endswith("/"), f"{doc.name}: copy {src} to a folder, under its own name (not {dest})"
        for cmd in re.findall(r"systemctl (?:enable --now|reload|status|restart|stop) ([\w@.-]*[\w@-])", text):
            assert f"{cmd}.service" in names or (cmd.startswith("idealweek@") and "idealweek@.service" in names), (
                doc.name,
                cmd,
            )
        for unit in re.findall(r"journalctl (?:--user )?-u ([\w@.-]*[\w@-])", text):
            assert f"{unit}.service" in names or unit.startswith("idealweek@"), (doc.name, unit)
        assert "pip install ." not in text.replace("pipx install .", ""), f"{doc.name}: install with pipx"
    assert settings_of(USER)["ExecStart"][0].startswith("%h/.local/bin/idealweek ")  # pipx's default bin dir
    for unit in (SYSTEM, TEMPLATE):  # PIPX_BIN_DIR=/usr/local/bin, as docs/service.md installs it
        assert settings_of(unit)["ExecStart"][0].startswith("/usr/local/bin/idealweek ")


def test_every_command_is_in_the_readme_table() -> None:
    """Each command and action of `idealweek --help` appears in the README's commands table."""
    from idealweek.cli import _parser

    table = (UNITS.parent / "README.md").read_text().split("## Commands", 1)[1].split("\n## ", 1)[0]
    parser = _parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, cmd in sub.choices.items():  # type: ignore[union-attr]
        assert f"`idealweek {name}" in table, name
        actions = [a for a in cmd._actions if a.dest.endswith("_command")]
        for action in actions:
            for verb in action.choices:  # type: ignore[union-attr]
                pattern = rf"`(idealweek )?{name} [^`]*\b{re.escape(verb)}\b"
                assert re.search(pattern, table), (name, verb)
