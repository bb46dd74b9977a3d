"""Reading a schema_version 1 ``project.yaml``: members with ``roles:`` lists and a ``roles:`` table.

Version 1 wrote each role's permissions into the file; version 2 has four fixed authority levels.
A version 1 file that used only the four default roles with their default permissions (what
``aios init`` wrote) converts exactly; anything custom cannot be expressed in version 2, and is
refused with the field and the shape to write instead, rather than guessed at.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrator import _yaml
from orchestrator.errors import StateError

_ALL = {"approve_task", "unblock", "merge", "lock_queue", "unlock_queue", "freeze"}
_DAY_TO_DAY = {"approve_task", "unblock", "lock_queue"}

#: Version 1's default roles: the version 2 role each becomes and the permissions its table gave it.
V1_ROLES: dict[str, tuple[str, set[str]]] = {
    "project_owner": ("owner", _ALL),
    "platform_engineer": ("platform", _ALL - {"freeze"}),
    "project_lead": ("lead", _DAY_TO_DAY | {"merge"}),
    "human_operator": ("operator", _DAY_TO_DAY),
}
#: Version 2 roles, most authority first: a member with several version 1 roles gets the first.
_BY_AUTHORITY = ["owner", "platform", "lead", "operator"]

V2_FIX = (
    "rewrite the file as schema_version 2: delete the `roles:` table and give each member one "
    "`role:`, one of owner (L0), platform (L1), lead (L2), operator (L3), whose permissions are fixed "
    "(e.g. `- {name: alice, role: owner}`); then `aios member list` shows who holds what"
)


def read_version(data: Any, *, text: str, file: Path | str) -> int:
    """The file's ``schema_version``: 1 when absent (version 1 files did not always write it).

    Raises:
        StateError: a version aios does not know.
    """
    if not isinstance(data, dict):
        return 2  # validation reports the shape
    version = data.get("schema_version", 1)
    if type(version) is int and version in (1, 2):
        return version
    newer = type(version) is int and version > 2
    raise StateError(
        f"schema_version {version!r} is not one this aios reads (1 or 2)",
        file=file,
        field="schema_version",
        line=_yaml.key_lines(text).get(("schema_version",)),
        fix="upgrade aios, which reads newer files" if newer else "set `schema_version: 2`",
    )


def m002_levels(data: dict[str, Any], *, text: str, file: Path | str) -> dict[str, Any]:
    """Version 1 data as version 2: each member's roles become the one role of highest authority.

    Raises:
        StateError: a custom role or permission table, naming the field and the version 2 shape.
    """
    lines = _yaml.key_lines(text)

    def refuse(message: str, *where: str | int) -> StateError:
        return StateError(
            message, file=file, field=_yaml.field_path(where), line=lines.get(where), fix=V2_FIX
        )

    table = data.get("roles")
    members = data.get("members")
    if isinstance(members, list):
        members = [_member(m, i, table, refuse) for i, m in enumerate(members)]
    _check_table(table, refuse)
    rest = {k: v for k, v in data.items() if k not in ("roles", "members", "schema_version")}
    return {"schema_version": 2, **({"members": members} if "members" in data else {}), **rest}


def _member(member: Any, i: int, table: Any, refuse: Any) -> Any:
    if not isinstance(member, dict) or "roles" not in member:
        return member  # validation reports what is missing or wrong
    roles = member["roles"]
    if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
        raise refuse(
            "schema_version 1 lists each member's roles: a non-empty list of role names",
            "members",
            i,
            "roles",
        )
    name = member.get("name")
    for role in roles:
        if isinstance(table, dict) and role not in table:
            raise refuse(
                f"member {name!r} has role {role!r}, which is not defined under roles "
                f"(known: {', '.join(map(str, table))})",
                "members", i, "roles",
            )  # fmt: skip
        if role not in V1_ROLES:
            raise refuse(
                f"member {name!r} has the custom role {role!r}, which schema_version 2 cannot express",
                "members", i, "roles",
            )  # fmt: skip
    best = min((V1_ROLES[r][0] for r in roles), key=_BY_AUTHORITY.index)
    return {k: v for k, v in member.items() if k != "roles"} | {"role": best}


def _check_table(table: Any, refuse: Any) -> None:
    if table is None:
        return
    if not isinstance(table, dict):
        raise refuse("schema_version 1's `roles:` must map each role to its permissions", "roles")
    for role, perms in table.items():
        if role not in V1_ROLES:
            raise refuse(f"the custom role {role!r} cannot be expressed in schema_version 2", "roles", role)
        if not isinstance(perms, list) or set(map(str, perms)) != V1_ROLES[role][1]:
            raise refuse(
                f"{role} has a custom permission list; in schema_version 2 each level's permissions "
                f"are fixed ({role} becomes {V1_ROLES[role][0]}: {', '.join(sorted(V1_ROLES[role][1]))})",
                "roles", role,
            )  # fmt: skip
