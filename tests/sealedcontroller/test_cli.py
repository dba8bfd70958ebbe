"""`secretsync controller` flags: upstream names and defaults, Go duration and boolean syntax, the deprecated
--rotate-period alias, SEALED_SECRETS_* environment variables (the command line wins), namespace scope rules
(--all-namespaces=false / --additional-namespaces), bad values as usage errors (exit 2) naming the flag, and
--version. The running command itself is exercised in test_keys.py (SIGUSR1, SIGTERM)."""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys

import pytest

from secretsync.cli import controller as cli
from secretsync.errors import UsageError


def _parse(argv, env=None, monkeypatch=None):
    if monkeypatch is not None:
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
    parser = argparse.ArgumentParser(allow_abbrev=False)
    cli.add_arguments(parser)
    return parser.parse_args(argv)


@pytest.mark.parametrize(
    "text,seconds",
    [
        ("720h", 2592000),
        ("1h30m", 5400),
        ("0", 0),
        ("1.5s", 1.5),
        ("300ms", 0.3),
        ("-2m", -120),
        ("87600h", 315360000),
        ("1h0m0s", 3600),
    ],
)
def test_go_durations(text, seconds):
    assert cli.parse_go_duration(text).total_seconds() == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5", "1d", "h", "1h30", "1.h.", "abc"])
def test_bad_go_durations(text):
    with pytest.raises(ValueError):
        cli.parse_go_duration(text)


def test_upstream_defaults(monkeypatch):
    monkeypatch.setenv("POD_NAMESPACE", "sealed")
    args = _parse([])
    config = cli.build_config(args, env={"POD_NAMESPACE": "sealed"})
    assert args.key_renew_period == dt.timedelta(hours=720) and args.key_ttl == dt.timedelta(hours=87600)
    assert (args.key_prefix, args.key_size, args.key_order_priority) == ("sealed-secrets-key", 4096, "CertNotBefore")
    assert (args.listen_addr, args.listen_metrics_addr) == (":8080", ":8081")
    assert (args.rate_limit, args.rate_limit_burst, args.max_unseal_retries) == (2, 2, 5)
    assert args.update_status is True and args.skip_recreate is False and args.all_namespaces is True
    assert config.namespace == "sealed" and config.controller.namespaces is None
    assert config.listen_addr == ("0.0.0.0", 8080) and config.leader_elect is False


def test_flags_env_and_precedence(monkeypatch):
    args = _parse(
        ["--update-status=false", "--rotate-period", "24h", "--key-size", "2048"],
        monkeypatch=monkeypatch,
        env={
            "SEALED_SECRETS_KEY_SIZE": "3072",
            "SEALED_SECRETS_SKIP_RECREATE": "true",
            "SEALED_SECRETS_ADDITIONAL_NAMESPACES": "a,b,a",
            "SEALED_SECRETS_LABEL_SELECTOR": "x=y",
            "SEALED_SECRETS_KEY_RENEW_PERIOD": "0",
        },
    )
    assert args.update_status is False and args.skip_recreate is True
    assert args.key_size == 2048  # the command line wins
    assert args.key_renew_period == dt.timedelta(hours=24)  # --rotate-period is the deprecated alias
    config = cli.build_config(args, env={"POD_NAMESPACE": "ctl"})
    assert config.controller.namespaces == ["ctl", "a", "b"]  # own namespace plus the additional ones
    assert config.controller.label_selector == "x=y" and config.controller.update_status is False
    assert _parse([], monkeypatch=monkeypatch).key_renew_period == dt.timedelta(0)  # from the env: renewal off


def test_all_namespaces_false_watches_only_the_own_namespace():
    config = cli.build_config(_parse(["--all-namespaces=false"]), env={"POD_NAMESPACE": "ctl"})
    assert config.controller.namespaces == ["ctl"]


@pytest.mark.parametrize(
    "argv,flag",
    [
        (["--key-order-priority", "Random"], "--key-order-priority"),
        (["--key-cutoff-time", "yesterday"], "--key-cutoff-time"),
        (["--privatekey-labels", "novalue"], "--privatekey-labels"),
        (["--listen-addr", "8080"], "listen address"),
    ],
)
def test_bad_values_are_usage_errors(argv, flag):
    with pytest.raises(UsageError) as info:
        cli.build_config(_parse(argv), env={})
    assert flag in info.value.message and info.value.exit_code == 2


def test_bad_env_values_are_usage_errors(monkeypatch, capsys):
    monkeypatch.setenv("SEALED_SECRETS_KEY_TTL", "ten years")
    with pytest.raises(SystemExit) as info:
        _parse([])
    assert info.value.code == 2 and "--key-ttl" in capsys.readouterr().err
    monkeypatch.delenv("SEALED_SECRETS_KEY_TTL")
    monkeypatch.setenv("SEALED_SECRETS_UPDATE_STATUS", "maybe")
    with pytest.raises(SystemExit):
        _parse([])
    assert "SEALED_SECRETS_UPDATE_STATUS" in capsys.readouterr().err


def test_version_and_usage_through_the_entry_point():
    out = subprocess.run(
        [sys.executable, "-m", "secretsync", "controller", "--version"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and out.stdout.startswith("controller version: ") and out.stderr == ""
    bad = subprocess.run(
        [sys.executable, "-m", "secretsync", "controller", "--key-ttl", "forever", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "--key-ttl" in bad.stderr
