"""The systemd units: the hardened system unit rates ≤ 2.0 and both units verify cleanly."""

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
    """The unit with ExecStart pointing at this venv's idealweek, so verify can check the command exists."""
    exe = Path(sys.executable).with_name("idealweek")
    text = re.sub(r"^ExecStart=\S+", f"ExecStart={exe}", unit.read_text(), flags=re.M)
    copy = folder / unit.name
    copy.write_text(text)
    return copy


@needs_analyze
def test_system_unit_exposure_is_at_most_2() -> None:
    """`systemd-analyze security --offline=true` rates the hardened system unit 2.0 or lower."""
    assert ANALYZE is not None
    res = subprocess.run(
        [ANALYZE, "security", "--offline=true", "--no-pager", str(SYSTEM)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", res.stdout)
    assert m, res.stdout + res.stderr
    assert float(m.group(1)) <= 2.0, res.stdout


@needs_analyze
@pytest.mark.parametrize("unit", [SYSTEM, USER], ids=["system", "user"])
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
    """Both units are Type=notify with a watchdog and reload by SIGHUP."""
    for unit in (SYSTEM, USER):
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
