"""Command groups loaded on first use, and typer's option coercion without pydantic for plain values.

``aios task status`` should cost what reading one task costs, not what importing every command's
module does (the review loop's, the web server's): the root group knows each command's name and
module (``COMMANDS``) and imports a module only when one of its commands runs, or when help lists
them all.

typer (0.29) coerces every option and argument through a pydantic ``TypeAdapter``, built on first
use, even ``--root PATH`` or a task id: importing pydantic for that alone costs more than the rest
of a state command. ``lighten`` gives each parameter a coercion that passes a value already of its
type (a ``str`` for a ``str`` option, a path for a ``Path`` one) straight through, as typer would,
and hands anything else (``--priority 2``, a choice, a list) to typer's own. With a typer that has
no such layer, nothing is changed.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

#: Every top-level command, in the order ``aios --help`` lists them, and the module (under
#: ``orchestrator.cli``) registering it: by ``register(app)``, or as its ``app`` group.
COMMANDS: dict[str, str] = {
    "init": "workspace",
    "freeze": "freeze",
    "unfreeze": "freeze",
    "demo": "demo",
    "eval": "eval",
    "mcp": "mcp",
    "serve": "serve",
    "escalate": "escalation",
    "metrics": "operations",
    "health": "operations",
    "standup": "operations",
    "weekly": "operations",
    "state": "workspace",
    "task": "task",
    "queue": "queue",
    "models": "models",
    "agent": "agent",
    "session": "agent",
    "review": "review",
    "worker": "worker",
    "member": "member",
    "decision": "records",
    "proposal": "records",
    "deviation": "records",
    "gate": "gates",
    "policy": "gates",
    "hooks": "hooks",
    "escalation": "escalation",
    "maintenance": "operations",
}


def module_commands(module_name: str) -> dict[str, Any]:
    """The click commands ``orchestrator.cli.<module_name>`` registers, by name (imports it)."""
    module = importlib.import_module(f"orchestrator.cli.{module_name}")
    holder = typer.Typer(rich_markup_mode=None)  # as the root app: groups inherit it from their parent
    if hasattr(module, "register"):
        module.register(holder)
    else:  # a module that is one command group: its name is the module's entry in COMMANDS
        (name,) = (n for n, m in COMMANDS.items() if m == module_name)
        holder.add_typer(module.app, name=name)
    commands = dict(typer.main.get_group(holder).commands)
    for command in commands.values():
        lighten(command)
    return commands


class LazyGroup(TyperGroup):
    """A typer group whose ``COMMANDS`` are built from their modules on first use."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._modules_loaded: set[str] = set()
        lighten(self)

    @property
    def commands(self) -> dict[str, Any]:  # type: ignore[override]
        """Every command, each module imported: for callers walking the tree (tests, docs)."""
        for name in COMMANDS:
            self._load(name)
        return self._commands

    @commands.setter
    def commands(self, value: dict[str, Any]) -> None:
        self._commands = dict(value)

    def list_commands(self, ctx: Any) -> list[str]:
        return [*COMMANDS, *(name for name in self._commands if name not in COMMANDS)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        self._load(cmd_name)
        return self._commands.get(cmd_name)

    def _load(self, name: str) -> None:
        module = COMMANDS.get(name)
        if module is None or module in self._modules_loaded:
            return
        self._modules_loaded.add(module)
        for found, command in module_commands(module).items():
            self._commands.setdefault(found, command)


def lighten(command: Any) -> None:
    """Give every parameter of ``command`` (and of its subcommands) the pass-through coercion.

    At parse time, since click makes some parameters then (``--help``, typer's completion options).
    """
    try:
        from typer._coercion import RuntimeParam
    except ImportError:  # a typer without the pydantic layer: its coercion is already light
        return
    # A lazy group's commands are lightened as they load: asking for `commands` would load them all.
    subcommands = command._commands if isinstance(command, LazyGroup) else getattr(command, "commands", {})
    for sub in subcommands.values():
        lighten(sub)
    if "get_params" in command.__dict__:
        return  # lightened already
    original = command.get_params

    def get_params(ctx: Any) -> list[Any]:
        params: list[Any] = original(ctx)
        for param in params:
            if getattr(param, "_runtime_param", False) is None and hasattr(param, "type_descriptor"):
                param._runtime_param = _passthrough(RuntimeParam)(
                    parameter_info=param.type_descriptor.parameter_info,
                    annotation=param.type_descriptor.annotation,
                )
        return params

    command.get_params = get_params


_PASSTHROUGH: dict[type, type] = {}


def _passthrough(base: type) -> type:
    """The pass-through coercion class (a subclass of typer's ``RuntimeParam``, made once)."""
    if base not in _PASSTHROUGH:

        class PassThrough(base):  # type: ignore[valid-type,misc]
            def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
                return _coerce(self, value, param, ctx)

        _PASSTHROUGH[base] = PassThrough
    return _PASSTHROUGH[base]


def _coerce(runtime: Any, value: Any, param: Any, ctx: Any) -> Any:
    """``value`` as typer's coercion returns it, without pydantic when it is already of its type."""
    annotation, info = runtime.annotation, runtime.parameter_info
    if annotation is str and isinstance(value, str):
        return value
    plain_number = info.min is None and info.max is None and not info.clamp
    if annotation is int and plain_number and type(value) is int:
        return value  # a count option (-vv), a default
    if annotation is Path and info.path_type is None and isinstance(value, (str, Path)):
        from typer._param_types import coerce_cli_path

        # typer's own path checks (exists, dir_okay ...), given a Path as its adapter would make one
        return coerce_cli_path(Path(value), info, path_type=Path, param=param, ctx=ctx)
    from typer._coercion import build_runtime_param

    return build_runtime_param(param.type_descriptor)._coerce_value(value, param=param, ctx=ctx)
