"""`make lab` / `make test` bootstrap: version check, idempotency, no stamp after a failure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tools import bootstrap

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("version", [(3, 10, 12), (3, 12, 1), (2, 7, 18)])
def test_unsupported_python_gets_one_clear_line(version, capsys):
    assert bootstrap.main([], version=version) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "needs Python 3.11" in err[0] and ".".join(map(str, version)) in err[0]


def test_make_refuses_an_unsupported_interpreter(tmp_path):
    fake = tmp_path / "python3.12"
    fake.write_text(
        "#!/bin/sh\n"
        f'exec {sys.executable} -c "import runpy, sys; '
        "sys.version_info = (3, 12, 1, 'final', 0); sys.argv = sys.argv[1:]; "
        'runpy.run_path(sys.argv[0], run_name=\'__main__\')" "$@"\n'
    )
    fake.chmod(0o755)
    proc = subprocess.run(
        ["make", "-s", "bootstrap", f"PYTHON={fake}"], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode != 0
    assert "the course needs Python 3.11 (found Python 3.12.1)" in proc.stderr
    assert ".venv" not in proc.stdout


def test_second_run_installs_nothing(tmp_path, monkeypatch):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").touch()
    (venv / bootstrap.stamp_name("base")).touch()

    def no_install(cmd):
        raise AssertionError(f"bootstrap ran {cmd} although the stamp was current")

    monkeypatch.setattr(bootstrap, "run", no_install)
    stamps = bootstrap.bootstrap(venv, [])
    assert [s.name for s in stamps] == [bootstrap.stamp_name("base")]


def test_stamp_changes_with_the_lock(tmp_path, monkeypatch):
    before = bootstrap.stamp_name("base")
    lock = tmp_path / "lock.txt"
    lock.write_text(bootstrap.LOCKS["base"].read_text() + "extra==1.0\n")
    monkeypatch.setitem(bootstrap.LOCKS, "base", lock)
    assert bootstrap.stamp_name("base") != before


@pytest.mark.slow
def test_failed_install_leaves_no_stamp(tmp_path):
    lock = tmp_path / "lock.txt"
    lock.write_text("no-such-package-for-the-course==1.0\n")
    venv = tmp_path / "venv"
    code = (
        "import sys; from pathlib import Path; from tools import bootstrap as b; "
        f"b.LOCKS['base'] = Path({str(lock)!r}); b.bootstrap(Path({str(venv)!r}), [])"
    )
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(tmp_path)}
    for _ in range(2):  # the second run retries instead of trusting a half-made venv
        proc = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert proc.returncode != 0
        assert "no-such-package-for-the-course" in proc.stdout + proc.stderr
        assert not list(venv.glob(".stamp-*"))


def test_browser_check_passes_when_chromium_exists(tmp_path):
    from tools import browser

    chromium = tmp_path / "chromium"
    chromium.write_text("")
    assert browser.ensure(chromium, cjk_font=lambda: True) == 0


def test_browser_check_stops_at_once_with_the_instruction_when_it_cannot_install(
    tmp_path, monkeypatch, capsys
):
    """Guards the newcomer's ten-minute red run: no chromium and no right to install it."""
    from tools import browser

    monkeypatch.setattr(browser, "installer", lambda uid=None: None)
    assert browser.ensure(tmp_path / "missing", cjk_font=lambda: True) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "sudo apt-get install chromium`" in err
    # a missing CJK font is named the same way, alone or with chromium
    assert browser.ensure(tmp_path / "missing", cjk_font=lambda: False) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "sudo apt-get install chromium fonts-noto-cjk`" in err


@pytest.mark.browser
def test_this_machine_has_the_cjk_font_the_browser_tests_use():
    """`make test` installs fonts-noto-cjk first (tools/browser.py); fontconfig must see it."""
    from tools import browser

    assert browser.has_cjk_font()


def test_installer_is_apt_get_as_root_and_none_without_apt(monkeypatch):
    from tools import browser

    monkeypatch.setattr(browser.shutil, "which", lambda name: "/usr/bin/" + name)
    assert browser.installer(uid=0) == []
    monkeypatch.setattr(browser.shutil, "which", lambda name: None)
    assert browser.installer(uid=0) is None
