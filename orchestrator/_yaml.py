"""The one way YAML is read and written: libyaml when present, errors with file, line and field."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import yaml

if TYPE_CHECKING:  # pydantic is imported by the models validated: reading YAML alone needs none
    from pydantic import BaseModel, ValidationError

from orchestrator.errors import AiosError, ConfigError

Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BaseDumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class Dumper(_BaseDumper):  # type: ignore[misc]
    """Never writes an anchor and alias (``&id001``/``*id001``): ``load`` refuses aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


M = TypeVar("M", bound="BaseModel")
KeyPath = tuple[str | int, ...]


def load(text: str, *, file: str | Path, error: type[AiosError] = ConfigError, line_offset: int = 0) -> Any:
    """Parse YAML text, turning a syntax error into ``error`` with the line and column.

    ``line_offset`` shifts lines when the YAML sits inside another file (TaskCard front matter).
    An alias (``*name``) is refused: a few lines of nested aliases expand to billions of nodes
    (the "billion laughs"), and every reader of the data would walk them.
    """
    try:
        _refuse_aliases(text, file=file, error=error, line_offset=line_offset)
        return yaml.load(text, Loader=Loader)  # noqa: S506 - Loader is a safe loader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 + line_offset if mark else None
        where = f" (column {mark.column + 1})" if mark else ""
        raise error(
            f"this is not valid YAML: {exc.problem or exc.context}{where}",
            file=file,
            line=line,
            fix="correct the YAML syntax at that line (indentation, a missing ':' or an unclosed bracket)",
        ) from None
    except yaml.YAMLError as exc:
        raise error(f"this is not valid YAML: {exc}", file=file, fix="correct the YAML syntax") from None


def _refuse_aliases(text: str, *, file: str | Path, error: type[AiosError], line_offset: int) -> None:
    """Raise ``error`` at the first alias in ``text``. Syntax errors are left to the loader."""
    if "*" not in text:  # the common case: no alias possible, no second pass over the text
        return
    for event in yaml.parse(text, Loader=Loader):
        if isinstance(event, yaml.AliasEvent):
            raise error(
                f"YAML aliases are not allowed (*{event.anchor})",
                file=file,
                line=event.start_mark.line + 1 + line_offset,
                fix="write the value out in full instead of `&name` ... `*name`; "
                "a `*` that starts a value must be quoted (`'*.py'`)",
            )


def dump(data: Any, *, flow_leaves: bool = False) -> str:
    """Serialise plain data as YAML, keys in insertion order.

    With ``flow_leaves`` each innermost mapping or list goes on one line (``- {at: ..., to: ...}``).
    """
    style = None if flow_leaves else False
    return yaml.dump(
        data, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=4096, default_flow_style=style
    )


def key_lines(text: str) -> dict[KeyPath, int]:
    """Map each key path (``("criteria", 1, "text")``) to its 1-based line. Only used on errors."""
    out: dict[KeyPath, int] = {}

    def walk(node: yaml.Node, path: KeyPath) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                sub = (*path, key.value)
                out[sub] = key.start_mark.line + 1
                walk(value, sub)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                out[(*path, i)] = item.start_mark.line + 1
                walk(item, (*path, i))

    try:
        root = yaml.compose(text, Loader=Loader)
    except yaml.YAMLError:
        return out
    if root is not None:
        walk(root, ())
    return out


def field_path(loc: tuple[Any, ...]) -> str:
    """Render a pydantic location as ``criteria[1].text``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def validate(
    model: type[M],
    data: Any,
    *,
    file: str | Path,
    text: str | None = None,
    error: type[AiosError] = ConfigError,
    line_offset: int = 0,
) -> M:
    """Validate ``data`` against ``model``; the first problem becomes ``error`` naming field and line.

    ``text`` is the YAML the data came from, used only on failure to find the line.
    ``line_offset`` shifts lines when the YAML sits inside another file (TaskCard front matter).
    """
    from pydantic import ValidationError

    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(
            exc, file=file, text=text, error=error, line_offset=line_offset, model=model
        ) from None


def validation_error(
    exc: ValidationError,
    *,
    file: str | Path,
    text: str | None,
    error: type[AiosError] = ConfigError,
    line_offset: int = 0,
    model: type[BaseModel] | None = None,
) -> AiosError:
    """Turn pydantic's report into one clear ``AiosError`` (first problem, count of the rest).

    With ``model``, an unknown key's fix lists the keys known at that place.
    """
    first = exc.errors(include_url=False)[0]
    loc = tuple(first["loc"])
    line = _line_of(loc, key_lines(text) if text else {})
    more = len(exc.errors()) - 1
    message = _describe(first)
    if more:
        message += f" ({more} more problem{'s' if more > 1 else ''} after this one)"
    return error(
        message,
        file=file,
        field=field_path(loc),
        line=line + line_offset if line else None,
        fix=_fix_for(first, model),
    )


def _line_of(loc: KeyPath, lines: dict[KeyPath, int]) -> int | None:
    for end in range(len(loc), 0, -1):
        if (found := lines.get(loc[:end])) is not None:
            return found
    return None


def _describe(err: Any) -> str:
    kind = err["type"]
    if kind == "missing":
        return "this field is required but missing"
    if kind == "extra_forbidden":
        return "unknown field"
    return str(err["msg"]).removeprefix("Value error, ")


def _known_keys(model: type[BaseModel], loc: KeyPath) -> list[str]:
    """The field names of the model found at ``loc`` inside ``model`` (empty when not a model)."""
    from pydantic import BaseModel

    current: Any = model
    for part in loc:
        if isinstance(part, int) or not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(str(part))
        if field is None:
            return []
        current = field.annotation
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


_FIXES = {
    "int_parsing": "use a whole number",
    "int_type": "use a whole number",
    "bool_parsing": "use true or false",
    "string_type": "use text (quote it if YAML reads it as something else)",
    "list_type": "use a list (`[a, b]` or one `- item` per line)",
    "dict_type": "use a mapping of `key: value` lines",
    "too_short": "add at least one item",
}


def _fix_for(err: Any, model: type[BaseModel] | None = None) -> str:
    kind = err["type"]
    if kind == "missing":
        return "add the field"
    if kind == "extra_forbidden":
        known = _known_keys(model, tuple(err["loc"])[:-1]) if model else []
        listed = f": use one of {', '.join(known)}" if known else ""
        return f"remove the field or correct its spelling{listed}"
    ctx = err.get("ctx") or {}
    if "fix" in ctx:  # a validator that knows the fix (``PydanticCustomError(..., {"fix": ...})``)
        return str(ctx["fix"])
    if "expected" in ctx:
        return f"use {ctx['expected']}"
    if "ge" in ctx or "le" in ctx:
        return "use a number in range: " + ", ".join(f"{k} {v}" for k, v in ctx.items() if k in ("ge", "le"))
    return _FIXES.get(kind, "correct the value")
