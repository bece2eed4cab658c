"""Issue 13, finding 1: no process in the sandbox carries the caller's environment.

bwrap (pid 1 inside) and the unshare fallback's init were started with the caller's whole
environment; `--clearenv` cleared only the command's, and `/proc/1/environ` is readable
inside. A passphrase, a database password or cloud credentials in the caller's environment
must not reach any process the command can read.
"""

from __future__ import annotations

import secrets

import pytest

from piizone.zones.sandbox import session as sandbox
from tests.zones.test_sandbox import _force_unshare, require_isolation

# Every /proc/<pid>/environ the command can read, NUL-separated, plus how many it read.
DUMP_ENVIRON = (
    'n=0; for f in /proc/[0-9]*/environ; do cat "$f" 2>/dev/null && n=$((n+1)); echo; done; '
    'echo "environ-files-read=$n"'
)
PLANTED = ("PIIZONE_PASSPHRASE", "PGPASSWORD", "AWS_SECRET_ACCESS_KEY", "PIIZONE_HOME_SECRET")


@pytest.fixture(scope="module")
def env_zone(make_zone):
    require_isolation()
    return make_zone("envz", {"t.txt": "hello from the zone\n"}).store


def _dump(store, tmp_path, monkeypatch, capfd) -> tuple[str, list[str]]:
    values = []
    for key in PLANTED:
        value = f"planted{secrets.token_hex(8)}"
        monkeypatch.setenv(key, value)
        values.append(value)
    capfd.readouterr()
    result = sandbox.run_session(
        "envz", ["sh", "-c", DUMP_ENVIRON], out_dir=tmp_path / "out", home=store.home
    )
    assert result.exit_code == 0
    return capfd.readouterr().out, values


def _assert_clean(out: str, values: list[str], *, processes: int) -> None:
    # The check must have read the other processes' environments too (bwrap's pid 1).
    read = int(out.rsplit("environ-files-read=", 1)[1].split()[0])
    assert read >= processes, out
    for value in values:
        assert value not in out
    for key in PLANTED:
        assert f"{key}=" not in out


def test_bwrap_processes_carry_none_of_the_callers_environment(
    env_zone, tmp_path, monkeypatch, capfd
):
    out, values = _dump(env_zone, tmp_path, monkeypatch, capfd)
    _assert_clean(out, values, processes=2)


def test_unshare_fallback_carries_none_of_the_callers_environment(
    env_zone, tmp_path, monkeypatch, capfd
):
    _force_unshare(monkeypatch)
    out, values = _dump(env_zone, tmp_path, monkeypatch, capfd)
    # The command is pid 1 there (setsid/env exec'd over the setup shell): one environ.
    _assert_clean(out, values, processes=1)


def test_process_env_is_an_allow_list():
    env = sandbox.host_process_env()
    assert set(env) <= {"PATH", "LANG", "LC_ALL"}
    assert env["PATH"] == sandbox.SANDBOX_PATH
