"""The one redactor: known shapes, found values (in memory and as hashes), and what it leaves alone.

Secrets are assembled at run time so this file does not trip secret scanners.
"""

from __future__ import annotations

import hashlib
import json
import random
import string
from collections.abc import Sequence
from pathlib import Path

import pytest
from review.sample import OPENAI_KEY

from orchestrator import redact as r
from orchestrator.redact import mask_secrets

AWS_SECRET = "Zk8/Qm2Lp7Rt4Vw8Ys3Kd6Hf1" + "Jn5Bx9Cg2Tv7Wq+P"
SHAPES = {
    "openai project key": ("sk-" + "proj-" + "Q7vN2kLm9xR4tW8zB3cH6jP1sD5fG0aE", "sk-proj-****"),
    "anthropic key": ("sk-" + "ant-api03-" + "Xy8Lm2Nq5Rt7Vw9Zb4Cd6Fg1Hj3Kp0Ms", "sk-ant-api03-****"),
    "aws key id": ("AKIA" + "Q3MZ7XK2LP9RT4WB", "AKIA****"),
    "aws secret key": (AWS_SECRET, "****"),
    "github token": ("ghp_" + "R8mK2pX7vQ4nL9wT3zB6cY1hJ5sD0fG8aE2u", "ghp_****"),
    "slack token": ("xoxb-" + "1234567890-abcdefghij", "xoxb-****"),
    "google key": ("AIza" + "SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q", "AIza****"),
    "jwt": (
        "eyJhbGciOiJIUzI1NiJ9" + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "eyJ****",
    ),
    "generic token": ("Zx9Qm2Lp" + "7Rt4Vw8Ys3Kd6Hf1", "****"),
    "aios session token": ("aios_st_" + "Q7vN2kLm9xR4tW8zB3cH6jP1sD5fG0aE", "aios_st_****"),
    "aios agent key": ("aios_ak_" + "Q7vN2kLm9xR4tW8zB3cH6jP1sD5fG0aE", "aios_ak_****"),
}


@pytest.mark.parametrize("kind", SHAPES)
def test_each_known_shape_is_masked(kind: str) -> None:
    secret, short = SHAPES[kind]
    text = f"config: {secret} (end)"
    assert r.redact(text) == f"config: {r.MASK} (end)"
    assert r.mask_secrets(text) == f"config: {short} (end)"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("PASSWORD: Tr0ub4dor&3xplode!", "PASSWORD: [REDACTED]"),
        ("db_password=correcthorsebattery", "db_password=[REDACTED]"),
        ('{"password": "s3cr3t-passw0rd"}', '{"password": "[REDACTED]"}'),
        (f"aws_secret_access_key = {AWS_SECRET}", "aws_secret_access_key = [REDACTED]"),
        ("postgres://admin:Sup3rS3cret@db:5432/app", "postgres://admin:[REDACTED]@db:5432/app"),
        ("Authorization: Bearer abc.def-ghi_jkl", "Authorization: Bearer [REDACTED]"),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
            "-----BEGIN RSA PRIVATE KEY----- [REDACTED]",
        ),
    ],
)
def test_passwords_and_credentials_in_output(text: str, masked: str) -> None:
    assert r.redact(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "commit 3f2a9c0d1e4b5a6978f0e1d2c3b4a5968778695a merged as 3f2a9c0d1e",  # git ids are hex
        "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "id 123e4567-e89b-12d3-a456-426614174000, fingerprint 1a2b3c4d5e6f",
        "see ops/reviews/TASK_DEV_0001/round-12.md and src/orchestrator/review/evidence/quality.py",
        "class ReviewReplyValidationError2, HTTPServer2RequestHandler, X509CertificateLoaderV3",
        "test_a_new_process_approves_at_the_checkpoint README_v2_Final_Draft_2024",
        "token = settings.token; api_key = read_key(); max_tokens: 1024; password = user_password",
        "key=${OPENAI_API_KEY} token=xyz task-redaction-for-everything-here",
    ],
)
def test_what_is_not_a_secret_stays(text: str) -> None:
    assert r.redact(text) == text


def test_most_random_tokens_are_caught_and_the_figure_is_kept_honest() -> None:
    rng = random.Random(9)
    alphabet = string.ascii_letters + string.digits
    caught = {
        n: sum(r.looks_random("".join(rng.choice(alphabet) for _ in range(n))) for _ in range(500)) / 500
        for n in (20, 24, 32, 40)
    }
    assert caught[20] >= 0.75 and caught[24] >= 0.8 and caught[32] >= 0.85 and caught[40] >= 0.88, caught


def test_a_registered_value_is_masked_whatever_its_shape() -> None:
    plain = "letmein-" + "orange-harbour"  # no known shape, no randomness
    assert r.redact(f"the value {plain}.") == f"the value {plain}."
    r.register([plain, "abc"])  # too short to register: masking "abc" everywhere would garble text
    assert r.redact(f"the value {plain}.") == f"the value {r.MASK}."
    assert r.mask_secrets(f"x {plain}") == "x ****" and r.redact("abc") == "abc"
    r.forget()
    assert plain in r.redact(plain)


def test_hashes_carry_found_values_to_a_new_process_without_storing_them(tmp_path: Path) -> None:
    plain = "letmein-" + "orange-harbour"
    path = tmp_path / "secret-hashes.json"
    r.save_hashes(path, [plain, "has space inside"])  # only whole tokens can be matched by hash
    stored = json.loads(path.read_text())
    assert plain not in path.read_text() and len(stored["sha256"]) == 1 and len(stored["salt"]) == 32
    r.forget()  # a new process knows no values
    assert plain in r.redact(f'pw = "{plain}"; see {plain}')
    r.load_hashes(path)
    assert r.redact(f'x = "{plain}"; see {plain}!') == f'x = "{r.MASK}"; see {r.MASK}!'
    r.load_hashes(tmp_path / "missing.json")  # nothing there: nothing added, no error


def test_environment_keys_and_extra_values_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "local-" + "server-key-1")
    assert r.redact("using local-server-key-1 now", ["using"]) == f"{r.MASK} {r.MASK} now"


def test_redact_data_masks_strings_in_nested_data() -> None:
    data = {"a": [SHAPES["github token"][0], 3, {"b": "ok"}], "n": None}
    assert r.redact_data(data) == {"a": [r.MASK, 3, {"b": "ok"}], "n": None}


def test_secret_values_found_by_detect_secrets_are_registered(tmp_path: Path) -> None:
    from orchestrator.review.diff import parse_diff
    from orchestrator.review.evidence import EvidenceContext
    from orchestrator.review.evidence.quality import found_values, secrets_check
    from orchestrator.review.settings import EvidenceSettings
    from orchestrator.sandbox.bwrap import CommandResult

    hex_secret = "8f3a9c2e7b1d4f6a" + "0c5e9b2d7f1a3c8e"  # hex: the generic rule leaves it alone
    diff = parse_diff(
        "diff --git a/a.py b/a.py\nnew file mode 100644\n--- /dev/null\n+++ b/a.py\n@@ -0,0 +1,2 @@\n"
        f'+x = 1\n+CHECKSUM_SEED = "{hex_secret}"\n'
    )
    item = {"type": "Hex High Entropy String", "line_number": 2, "hashed_secret": _sha1(hex_secret)}
    stdout = json.dumps({"results": {"./a.py": [item]}})
    assert found_values(stdout, diff) == [hex_secret]
    assert found_values("not json", diff) == []
    assert r.redact(f"seed {hex_secret}") == f"seed {hex_secret}"

    def detect_secrets(argv: Sequence[str]) -> CommandResult:
        return CommandResult(tuple(argv), 0, stdout, "", 0.01)

    result = secrets_check(EvidenceContext(tmp_path, diff, EvidenceSettings()), detect_secrets)
    assert [(f.line, f.rule) for f in result.findings] == [(2, "secret")]
    assert r.redact(f"seed {hex_secret}") == f"seed {r.MASK}"  # every writer masks it from now on


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 - detect-secrets' fingerprint


def test_a_found_key_reads_the_same_as_a_shaped_one() -> None:
    key = SHAPES["github token"][0]
    before = r.mask_secrets(f"rotate {key}")
    r.register([key])
    assert r.mask_secrets(f"rotate {key}") == before == "rotate ghp_****"


def test_mask_secrets() -> None:
    text = f"a {OPENAI_KEY} b AKIAIOSFODNN7EXAMPLE c ghp_{'x' * 36}\n-----BEGIN RSA PRIVATE KEY-----\nabc\n"
    masked = mask_secrets(text)
    assert masked.startswith("a sk-proj-**** b AKIA**** c ghp_****")
    assert "abc" not in masked
