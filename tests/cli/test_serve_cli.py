"""`piizone serve` from the command line: what it refuses before serving (one `error:` line, exit
2, nothing audited as started), and a real two-worker TLS server on 0.0.0.0 with the env token."""

from __future__ import annotations

import datetime
import ipaddress
import os
import signal
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from piizone.cli.main import app
from piizone.zones import audit
from piizone.zones.config import load_config, save_config
from piizone.zones.lifecycle import init_home
from piizone.zones.serving.bundle import export_bundle
from piizone.zones.serving.service import clear_text_warning
from piizone.zones.storage.store import ZoneStore
from tests.conftest import REPO
from tests.zones.live_server import LiveServer, free_port

runner = CliRunner()
POLICY = "version: 1\nname: cli\nentities:\n  PERSON: {operator: pseudonymize}\n  LOCATION: {}\n"


@pytest.fixture(scope="module")
def made(make_zone) -> dict[str, Path]:
    zone = make_zone(
        "z", {"a.txt": "Customer: this is Michelle Hall from Denver.\n"}, policy=POLICY
    )
    base = zone.base
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PIIZONE_HOME", str(zone.home))
        export_bundle("z", base / "bundle", zone.store)
    return {
        "home": zone.home,
        "bundle": base / "bundle",
        "policy": base / "policy.yaml",
        "base": base,
    }


@pytest.fixture
def home(made: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PIIZONE_HOME", str(made["home"]))
    monkeypatch.delenv("PIIZONE_SERVE_TOKEN", raising=False)
    return made["home"]


def starts(home: Path) -> int:
    return sum(r["action"] == "serve.start" for r in audit.open_audit_log(home).records())


def test_a_tampered_bundle_is_refused_at_start(made: dict[str, Path], tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    for f in made["bundle"].iterdir():
        (bundle / f.name).write_bytes(f.read_bytes())
    (bundle / "policy.yaml").write_text(POLICY.replace("pseudonymize", "keep"))
    before = starts(made["home"])
    env = {**os.environ, "PIIZONE_HOME": str(made["home"]), "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "piizone.cli.main", "serve", "--bundle", str(bundle)]
        + ["--port", str(free_port())],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and "policy.yaml: edited after signing" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert starts(made["home"]) == before


def test_without_any_token_the_service_refuses_to_start(home: Path) -> None:
    config = load_config(home)
    token = config.serve.token
    config.serve.token = None
    save_config(config, home)
    try:
        result = runner.invoke(app, ["serve", "--bundle", str(home.parent / "bundle")])
    finally:
        config.serve.token = token
        save_config(config, home)
    assert result.exit_code == 2
    assert "error: no bearer token for the service" in result.stderr
    assert "PIIZONE_SERVE_TOKEN" in result.stderr


def test_init_writes_a_token_once(home: Path) -> None:
    token = load_config(home).serve.token
    assert len(token) >= 40
    assert (home / "config.toml").stat().st_mode & 0o777 == 0o600
    init_home(home)
    assert load_config(home).serve.token == token


def test_serve_zone_refuses_a_policy_that_is_not_the_manifests(home: Path) -> None:
    policy = ZoneStore(home).current_dir("z") / "policy.yaml"
    original = policy.read_text()
    policy.write_text(original.replace("pseudonymize", "keep"))
    try:
        result = runner.invoke(app, ["serve", "--zone", "z", "--port", str(free_port())])
    finally:
        policy.write_text(original)
    assert result.exit_code == 2
    assert "refusing to serve another policy" in result.stderr


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--policy", "{policy}", "--bundle", "{bundle}"], "at most one of --policy, --bundle"),
        (["--trusted-key", "{policy}"], "--trusted-key applies to --bundle only"),
        (["--tls-cert", "{policy}"], "--tls-cert and --tls-key go together"),
        (["--tls-cert", "{policy}", "--tls-key", "{policy}"], "cannot load the TLS certificate"),
        (["--tls-cert", "/nonexistent.pem", "--tls-key", "{policy}"], "no such TLS file"),
        (["--workers", "0"], "--workers must be between 1 and 64"),
        (["--bundle", "/nonexistent"], "no such bundle directory"),
        (["--zone", "nope"], "nope"),
        (["--host", "no.such.host.invalid"], "cannot listen on no.such.host.invalid"),
    ],
)
def test_bad_options_are_one_error_line(
    home: Path, made: dict[str, Path], argv: list[str], message: str
) -> None:
    argv = [a.format(policy=made["policy"], bundle=made["bundle"]) for a in argv]
    result = runner.invoke(app, ["serve", *argv, "--port", str(free_port())])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_taken_port_is_refused_before_the_model_loads(home: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(app, ["serve", "--port", str(port)])
    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "hint: choose another --port" in result.stderr


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as a test TLS deployment would have."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "piizone test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


@pytest.mark.parametrize(
    "host, tls, warned",
    [
        ("127.0.0.1", False, False),
        ("127.0.0.53", False, False),
        ("::1", False, False),
        ("localhost", False, False),
        ("0.0.0.0", False, True),
        ("::", False, True),
        ("10.1.2.3", False, True),
        ("serve.internal", False, True),
        ("0.0.0.0", True, False),
    ],
)
def test_only_a_reachable_address_without_tls_is_warned_about(
    host: str, tls: bool, warned: bool
) -> None:
    warning = clear_text_warning(host, tls)
    assert (warning is not None) == warned
    if warning:
        assert warning.startswith(f"listening on {host} without TLS")


def test_two_workers_on_all_interfaces_over_tls_with_the_env_token(
    made: dict[str, Path], tmp_path: Path
) -> None:
    home = made["home"]
    cert, key = self_signed(tmp_path)
    verify = ssl.create_default_context(cafile=str(cert))
    env_token = "env-token-" + "x" * 30
    server = LiveServer(
        ["--policy", str(made["policy"]), "--host", "0.0.0.0", "--workers", "2"]
        + ["--tls-cert", str(cert), "--tls-key", str(key)],
        home,
        env={"PIIZONE_SERVE_TOKEN": env_token},
        verify=verify,
    )
    try:
        assert "warning" not in server.log()
        assert "listening on https://0.0.0.0:" in server.log() and "2 workers" in server.log()
        with pytest.raises(httpx.TransportError):  # no clear-text HTTP on a TLS port
            httpx.get(f"http://127.0.0.1:{server.port}/healthz", timeout=10)
        config_token = load_config(home).serve.token
        wrong = httpx.post(
            f"{server.url}/v1/scrub",
            json={"text": "x"},
            headers={"Authorization": f"Bearer {config_token}"},
            verify=verify,
        )
        assert wrong.status_code == 401  # the environment's token wins
        auth = {"Authorization": f"Bearer {env_token}"}
        text = "Customer: this is Michelle Hall from Denver."
        with httpx.Client(verify=verify, headers=auth, timeout=60) as client:
            outputs = {
                client.post(f"{server.url}/v1/scrub", json={"text": text}).json()["text"]
                for _ in range(8)
            }
            metrics = client.get(f"{server.url}/metrics").text
        assert len(outputs) == 1 and "<PERSON_" in outputs.pop()
        # Shared memory: whichever worker answers, it counts every worker's requests.
        assert 'piizone_http_requests_total{endpoint="/v1/scrub",code="200"} 8' in metrics
        assert 'piizone_entities_redacted_total{entity="PERSON"} 8' in metrics
    finally:
        assert server.stop(signal.SIGINT) == 0
    stop = [r for r in audit.open_audit_log(home).records() if r["action"] == "serve.stop"][-1]
    assert stop["details"]["by_endpoint"]["/v1/scrub"] == 9
    assert stop["details"]["signal"] == "SIGINT" and stop["outcome"] == "success"
    start = [r for r in audit.open_audit_log(home).records() if r["action"] == "serve.start"][-1]
    assert start["details"]["tls"] is True and start["details"]["workers"] == 2


def test_init_adds_a_token_to_a_hand_edited_config_without_rewriting_it(tmp_path: Path) -> None:
    from piizone.zones.config import ensure_serve_token

    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    text = '# ours\n[kek]\nprovider = "keyfile"\n\n[kek.params]\nx = 1\n\n[serve] # ours too\n'
    (home / "config.toml").write_text(text)
    assert ensure_serve_token(home) is True
    after = (home / "config.toml").read_text()
    assert after.startswith(text.rstrip("\n")) and after.count("[serve]") == 1
    token = load_config(home).serve.token
    assert ensure_serve_token(home) is False and load_config(home).serve.token == token
