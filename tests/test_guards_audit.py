from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from telnyx_numbers_mcp.guards import audit
from telnyx_numbers_mcp.guards.audit import AuditLog, default_audit_path, redact

SERVER_DIR = Path(audit.__file__).resolve().parents[2]


def read_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_each_append_writes_one_valid_json_line(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    log.append({"event": "call", "tool": "number_orders_create"})
    log.append({"event": "result", "status": 200})
    lines = (tmp_path / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    records = [json.loads(line) for line in lines]
    assert records[0]["event"] == "call"
    assert records[1]["status"] == 200


def test_lines_are_written_with_sorted_keys(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.jsonl")
    log.append({"zeta": 1, "alpha": 2})
    line = (tmp_path / "a.jsonl").read_text(encoding="utf-8").strip()
    keys = list(json.loads(line))
    assert keys == sorted(keys)


def test_records_get_a_utc_millisecond_timestamp_a_sequence_and_an_event_id(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.jsonl")
    log.append({"event": "one"})
    log.append({"event": "two"})
    first, second = read_lines(tmp_path / "a.jsonl")
    ts = str(first["ts"])
    assert ts.endswith("Z")
    assert len(ts.split(".")[1]) == len("123Z")
    datetime.fromisoformat(ts.replace("Z", "+00:00"))
    assert (first["seq"], second["seq"]) == (1, 2)
    assert len(str(first["event_id"])) == 32
    assert first["event_id"] != second["event_id"]


def test_parent_directories_are_created(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "audit.jsonl"
    AuditLog(path).append({"event": "x"})
    assert path.exists()


def test_a_second_log_on_the_same_file_appends_instead_of_truncating(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    AuditLog(path).append({"event": "first"})
    AuditLog(str(path)).append({"event": "second"})
    assert [r["event"] for r in read_lines(path)] == ["first", "second"]


def test_append_fsyncs_before_returning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        calls.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    log = AuditLog(tmp_path / "audit.jsonl")
    log.append({"event": "first"})
    assert calls, "fsync was not called"
    calls.clear()
    log.append({"event": "second"})
    assert len(calls) == 1


def test_a_record_survives_a_crash_right_after_append(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    code = (
        "import os, sys\n"
        "from telnyx_numbers_mcp.guards.audit import AuditLog\n"
        "AuditLog(sys.argv[1]).append({'event': 'purchase', 'order_id': 'ord-1'})\n"
        "os._exit(1)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SERVER_DIR)}
    done = subprocess.run([sys.executable, "-c", code, str(path)], env=env, timeout=30, check=False)
    assert done.returncode == 1
    (record,) = read_lines(path)
    assert record["event"] == "purchase"
    assert record["order_id"] == "ord-1"


def test_secret_looking_keys_are_redacted_at_any_depth() -> None:
    record = {
        "api_key": "KEY123",
        "headers": {"Authorization": "Bearer KEY123", "X-Api-Key": "k", "Accept": "application/json"},
        "items": [{"client_secret": "s"}, {"password": "p", "name": "ok"}],
        "refresh_token": "t",
        "APIKEY": "a",
    }
    assert redact(record) == {
        "api_key": "***",
        "headers": {"Authorization": "***", "X-Api-Key": "***", "Accept": "application/json"},
        "items": [{"client_secret": "***"}, {"password": "***", "name": "ok"}],
        "refresh_token": "***",
        "APIKEY": "***",
    }


def test_configured_secret_strings_are_redacted_inside_strings_and_lists() -> None:
    record = {"error": "401 for key KEYabc123 rejected", "args": ["KEYabc123", ("x KEYabc123 y",)]}
    assert redact(record, ["KEYabc123"]) == {
        "error": "401 for key *** rejected",
        "args": ["***", ["x *** y"]],
    }


def test_redact_does_not_change_its_input() -> None:
    record = {"api_key": "k", "nested": {"token": "t"}}
    redact(record, ["k"])
    assert record == {"api_key": "k", "nested": {"token": "t"}}


def test_redact_keeps_none_and_plain_values() -> None:
    assert redact({"api_key": None, "n": 1, "f": 1.5, "b": True, "z": None}) == {
        "api_key": None,
        "n": 1,
        "f": 1.5,
        "b": True,
        "z": None,
    }


def test_append_redacts_with_the_configured_secrets(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, secrets=["KEYsecret999"])
    log.append({"request": {"headers": {"Authorization": "Bearer KEYsecret999"}}, "note": "used KEYsecret999"})
    text = path.read_text(encoding="utf-8")
    assert "KEYsecret999" not in text
    (record,) = read_lines(path)
    assert record["request"] == {"headers": {"Authorization": "***"}}
    assert record["note"] == "used ***"


def test_values_json_cannot_hold_are_written_as_text(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    AuditLog(path).append({"when": datetime(2026, 1, 2, 3, 4, 5), "where": Path("/x")})
    (record,) = read_lines(path)
    assert record["when"] == "2026-01-02 03:04:05"
    assert record["where"] == str(Path("/x"))


def test_default_path_is_in_the_user_data_directory() -> None:
    path = default_audit_path()
    assert path.name == "audit.jsonl"
    assert "telnyx-numbers-mcp" in str(path.parent)
