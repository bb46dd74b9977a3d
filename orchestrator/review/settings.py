"""Settings of the review: the ``evidence:`` and ``policy:`` sections of the workflow file.

The whole file is one model, ``orchestrator.workflow.settings.WorkflowSettings``, which extends
``ReviewSettings``; it is loaded there, once.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.review.findings import Severity


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- evidence


class RuffSettings(_Strict):
    """Ruff on the changed Python files (dimension Q)."""

    command: list[str] = ["ruff"]
    select: list[str] = ["E9", "F", "B", "S", "PLE"]
    """Correctness rules and the security set ``S``."""
    ignore: list[str] = []
    per_file_ignores: dict[str, list[str]] = {
        # Tests assert, use fixed passwords and temp paths on purpose, and ``random`` for test data.
        "**/tests/**": ["S101", "S105", "S106", "S108", "S311"],
        "**/test_*.py": ["S101", "S105", "S106", "S108", "S311"],
        "**/*_test.py": ["S101", "S105", "S106", "S108", "S311"],
        "**/conftest.py": ["S101", "S105", "S106", "S108", "S311"],
    }
    honour_noqa: bool = False
    """A builder agent can silence any rule with a ``# noqa`` comment, so by default it cannot."""
    severities: dict[str, Severity] = {
        "invalid-syntax": Severity.CRITICAL,
        "E9": Severity.CRITICAL,
        "F821": Severity.MAJOR,
        "F": Severity.MINOR,
        "PLE": Severity.MAJOR,
        "B": Severity.MINOR,
        "S": Severity.MAJOR,
        # An import alone (bandit's B4xx, ruff's preview S4xx) is not a defect: the call it enables
        # is flagged where it is made (S301 pickle.load, S312 telnetlib, S602 shell=True). Shown.
        "S4": Severity.INFO,
        # Shown as bandit shows them, never blocking: an assert in app code (gone under -O), a
        # subprocess run with an argv list (the safe way), a program found on PATH (a policy).
        "S101": Severity.INFO,
        "S603": Severity.INFO,
        "S607": Severity.INFO,
        "S102": Severity.CRITICAL,
        "S307": Severity.CRITICAL,
        "S602": Severity.CRITICAL,
        "S604": Severity.CRITICAL,
        "S605": Severity.CRITICAL,
        "S608": Severity.CRITICAL,
    }
    """Rule id or prefix -> severity; the longest matching prefix wins."""
    default_severity: Severity = Severity.MINOR

    def severity_of(self, rule: str) -> Severity:
        """The severity configured for ``rule`` (longest matching prefix), else the default."""
        matches = [p for p in self.severities if rule_matches(rule, p)]
        return self.severities[max(matches, key=len)] if matches else self.default_severity


class BanditSettings(_Strict):
    """Bandit on the changed Python files, beside ruff (dimension Q).

    Its issues take ruff's rule ids (``B403`` -> ``S403``), so ``ruff``'s ``ignore``,
    ``per_file_ignores``, ``severities`` and ``honour_noqa`` (for ``# nosec``) apply to them too;
    an issue ruff also reports is one finding.
    """

    enabled: bool = True
    """Off: ruff's ``S`` rules alone (they miss suspicious imports, ``torch.load``, unpinned model
    downloads and more)."""
    command: list[str] = ["bandit"]


class SecretsSettings(_Strict):
    """detect-secrets plus the OpenAI/Anthropic key detector, on the added lines (dimension Q)."""

    command: list[str] = ["detect-secrets"]
    disable_plugins: list[str] = []
    """detect-secrets plugin class names to turn off (``Base64HighEntropyString`` if too noisy)."""
    severity: Severity = Severity.CRITICAL


class InjectionSettings(_Strict):
    """Text in the change, file names, commit messages, TaskCard or check output that tries to
    instruct the reviewer (phrases: ``orchestrator/data/injection_phrases.yaml``)."""

    severity: Severity = Severity.MAJOR
    """How the finding reads in the report; at any severity it never approves (the policy's rule)."""
    extra_patterns: list[str] = []
    """More regular expressions (case-insensitive) to flag, matched against the normalised text
    (``_phrases.normalise``: lower case, punctuation and line breaks made single spaces)."""


class QualitySettings(_Strict):
    """Dimension Q: lint, security rules and secrets."""

    timeout_s: float = Field(60, gt=0)
    ruff: RuffSettings = RuffSettings()
    bandit: BanditSettings = BanditSettings()
    secrets: SecretsSettings = SecretsSettings()
    injection: InjectionSettings = InjectionSettings()


class RequirementsSettings(_Strict):
    """Dimension R: each acceptance criterion's ``check`` command."""

    timeout_s: float = Field(120, gt=0)
    """Time limit of each check."""
    shell: list[str] = []
    """Empty: a check is split like a POSIX shell would and run without one, as the builder's check
    tool does. ``[sh, -c]`` runs it through a shell instead (pipes, ``&&``), inside the sandbox."""
    failed_severity: Severity = Severity.CRITICAL
    unchecked_severity: Severity = Severity.INFO
    """A criterion without a check is left to the model reviewer; static mode notes it at this level."""


class TestsSettings(_Strict):
    """How the task's tests run."""

    __test__ = False  # not a pytest test class despite the name

    command: list[str] | None = None
    """A custom test command (exit 0 passes); None runs pytest with coverage of the changed lines."""
    python: list[str] | None = None
    """The interpreter that runs pytest and coverage in the worktree. None (the default): the
    project's own environment (``.venv/``, ``venv/``, ``$UV_PROJECT_ENVIRONMENT`` or poetry's, in
    the workspace root), else aios's own; coverage and pytest come from aios when that environment
    lacks them, without installing anything into it. An absolute path (``[/opt/venvs/app/bin/python]``)
    names the environment; a bare command (``[python]``) is aios's own interpreter, as before
    (see ``orchestrator.sandbox.environment``)."""
    pytest_args: list[str] = ["-q", "-p", "no:cacheprovider", "-p", "no:langsmith_plugin"]
    """``no:langsmith_plugin``: langgraph pulls in langsmith, whose pytest plugin costs ~0.6 s to import."""
    failed_severity: Severity = Severity.CRITICAL
    max_listed_failures: int = Field(20, ge=1)


class CoverageSettings(_Strict):
    """Coverage of the changed, executable, non-test lines."""

    enabled: bool = True
    """Measure it. False: the tests run without coverage's tracer (faster) and the ``coverage``
    check reports "not measured"; the merge base's run and the re-run of failed tests never
    measure it (only their outcome counts)."""
    min_changed: float = Field(0.8, ge=0, le=1)
    severity: Severity = Severity.MINOR


class CompletenessSettings(_Strict):
    """Dimension C: the task's tests, coverage of the change, whether tests changed at all."""

    timeout_s: float = Field(300, gt=0)
    tests: TestsSettings = TestsSettings()
    coverage: CoverageSettings = CoverageSettings()
    test_paths: list[str] = ["tests/*", "*/tests/*", "test_*.py", "*_test.py", "conftest.py"]
    """``fnmatch`` globs (``*`` crosses ``/``) tried on the path and on the file name."""
    no_tests_severity: Severity = Severity.MAJOR


class ComplexitySettings(_Strict):
    """Cyclomatic complexity of changed functions (ruff ``C901``)."""

    max: int = Field(10, ge=1)
    severity: Severity = Severity.MAJOR


class DuplicationSettings(_Strict):
    """Blocks the change copies from elsewhere in the repository (normalised-line windows)."""

    min_lines: int = Field(6, ge=2)
    """Significant lines (not blank, not comments, not brackets) a copied block must span."""
    severity: Severity = Severity.MINOR
    max_files: int = Field(5000, ge=1)


class SizeSettings(_Strict):
    """Size of the change (added + removed lines)."""

    max_changed_lines: int = Field(400, ge=1)
    severity: Severity = Severity.MINOR


class OptimizationSettings(_Strict):
    """Dimension O: complexity, duplication, size."""

    timeout_s: float = Field(60, gt=0)
    complexity: ComplexitySettings = ComplexitySettings()
    duplication: DuplicationSettings = DuplicationSettings()
    size: SizeSettings = SizeSettings()


class BaselineSettings(_Strict):
    """``evidence.baseline``: only what the change introduces counts.

    A failing test or a ruff finding also present on the target branch's merge base is reported as
    ``pre-existing`` (info) and never blocks; a test failure that passes on an immediate re-run is
    reported as ``flaky``.
    """

    enabled: bool = True
    """Run the failing checks again on the merge base (once per base commit, cached) to compare."""
    rerun_failed: bool = True
    """Re-run the failed tests once; those that pass then are flaky, not the change's failure."""
    flaky_severity: Severity = Severity.MINOR


class EvidenceSettings(_Strict):
    """The ``evidence:`` section: what each dimension runs before any model sees the change."""

    output_tail_chars: int = Field(2000, ge=100)
    """How much of each command's output the report keeps."""
    quality: QualitySettings = QualitySettings()
    requirements: RequirementsSettings = RequirementsSettings()
    completeness: CompletenessSettings = CompletenessSettings()
    optimization: OptimizationSettings = OptimizationSettings()
    baseline: BaselineSettings = BaselineSettings()


# ---------------------------------------------------------------- policy


class PolicySettings(_Strict):
    """The ``policy:`` section: how findings and evidence become a verdict.

    Some rules are not settings: a check that could not run blocks; a failing acceptance check,
    failing tests or a security finding at ``security_floor`` or worse never approve.
    """

    revise_on: list[Severity] = [Severity.CRITICAL, Severity.MAJOR]
    """Finding severities that send the change back to the builder."""
    security_floor: Severity = Severity.MAJOR
    """A security finding this bad or worse never approves, whatever ``revise_on`` says."""
    security_rules: list[str] = ["S", "secret", "prompt-injection", "nested-git"]
    """Rule ids or prefixes that make a finding a security finding."""
    security_personas: list[str] = ["security_expert"]
    """Model findings from these personas are security findings too."""
    grounding_near_lines: int | None = Field(10, ge=0)
    """A model finding more than this many lines from any changed hunk is dropped; null: no limit."""


class ReviewSettings(_Strict):
    """The sections of the workflow file that the review reads.

    ``orchestrator.workflow.settings.WorkflowSettings`` extends it to the whole file and loads it.
    """

    evidence: EvidenceSettings = EvidenceSettings()
    policy: PolicySettings = PolicySettings()


def rule_matches(rule: str, pattern: str) -> bool:
    """True when ``pattern`` selects ``rule`` the way ruff selectors do.

    ``S`` matches ``S608`` but not ``SIM101``; ``E9`` matches ``E902``; ``acceptance`` matches
    ``acceptance:AC1``; a full id matches itself.
    """
    if not rule.startswith(pattern):
        return False
    rest = rule[len(pattern) :]
    return rest == "" or rest.isdigit() or rest.startswith(":")
