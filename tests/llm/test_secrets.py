"""No key in any recording, log or error: the test greps for the keys it set."""

from __future__ import annotations

import logging

import pytest
import wire
from harnesses import SECRETS, make_stub_harness

from orchestrator.llm import ModelError
from orchestrator.llm.replay import close_recorder
from orchestrator.redact import MASK, redact, redact_data


@pytest.mark.parametrize("kind", ["openai", "openai-compatible", "anthropic"])
def test_no_key_in_recordings_logs_or_errors(kind, stub, workspace, keys, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    h = make_stub_harness(kind, stub, workspace)
    key = SECRETS["OPENAI_API_KEY"] if kind == "openai" else SECRETS["ANTHROPIC_API_KEY"]
    echo = f"invalid key {key}"
    h.stub.queue(
        500, wire.openai_error(500, echo) if kind != "anthropic" else wire.anthropic_error(500, echo)
    )
    h.reply_text(f"You pasted {SECRETS['AIOS_API_KEY']} and api_key=hunter2hunter2")
    h.stub.queue(
        401, wire.openai_error(401, echo) if kind != "anthropic" else wire.anthropic_error(401, echo)
    )
    path = tmp_path / "rec.jsonl"
    model = h.model(record=path)

    model.complete(f"my keys are {SECRETS['OPENAI_API_KEY']} and {SECRETS['ANTHROPIC_API_KEY']}")
    with pytest.raises(ModelError) as caught:
        model.complete("again")
    close_recorder(path)

    written = path.read_text() + caplog.text + str(caught.value) + caught.value.body
    for secret in [*SECRETS.values(), "hunter2hunter2"]:
        assert secret not in written
    assert MASK in path.read_text() and "retrying" in caplog.text


def test_redact_patterns():
    text = (
        "sk-proj-abcdefghijklmnopqrstuvwxyz Authorization: Bearer abc.def-ghi_jkl "
        "AKIAABCDEFGHIJKLMNOP ghp_" + "a" * 36 + ' "password": "s3cr3t-passw0rd" token=xyz'
    )
    out = redact(text)
    assert "abcdefghijklmnop" not in out and "abc.def" not in out and "AKIA" not in out
    assert "ghp_" not in out and "s3cr3t" not in out
    assert "token=xyz" in out  # short values stay readable: they are not keys


def test_redact_data_keeps_structure():
    data = {"messages": [{"content": "key sk-ant-api03-" + "x" * 30}], "n": 3}
    assert redact_data(data) == {"messages": [{"content": f"key {MASK}"}], "n": 3}
