"""What ``aios task status``, ``aios task list`` and ``aios review status`` print, from plain data.

Typer-free, so the commands and the fast path (``_fast``) print the very same lines: each view
takes the JSON its command's ``--json`` prints.
"""

from __future__ import annotations

import sys
from typing import Any

from orchestrator.cli._print import console, echo, print_json, safe, write

#: ``task list`` columns, and their headers.
LIST_COLUMNS = ("id", "status", "queue", "priority", "title")
_HEADERS = ("id", "status", "queue", "prio", "title")
#: Longer lists print as plain aligned columns: rich lays a table out at about 0.3 ms a row (3 s
#: for 10,000 tasks, ten times the scan behind it), and nobody reads that many rows wrapped. So
#: does a list that is not going to a terminal (a pipe, a file): rich's layout is for a screen,
#: and importing it costs more than the rest of the command.
RICH_ROWS = 500


def show_task(data: dict[str, Any], as_json: bool) -> None:
    """A task (``TaskState`` as JSON): its fields, status and every event."""
    if as_json:
        print_json(data)
        return
    echo(f"{data['id']}  {data['status']}  ({data['queue']}, priority {data['priority']})")
    echo(f"  {data['title']}")
    echo(f"  card: {data['card']}")
    for e in data["events"]:
        kind = f" [{e['kind']}]" if e.get("kind") else ""
        echo(f"  {e['at']}  {e['from'] or 'created'} → {e['to']}{kind}  by {e['actor']}  {e['reason'] or ''}")


def show_listing(rows: list[dict[str, Any]], as_json: bool, *, rich_rows: int = RICH_ROWS) -> None:
    """``task list``'s rows: a table on a terminal, plain aligned columns otherwise."""
    if as_json:
        print_json(rows)
        return
    if not rows:
        write("No tasks.")
        return
    if len(rows) > rich_rows or not sys.stdout.isatty():
        write(plain_table(_plain_cells(rows)))
        return
    from rich.table import Table

    table = Table(*_HEADERS, box=None, pad_edge=False)
    for r in rows:
        table.add_row(*(safe(r[k], markup=True) for k in LIST_COLUMNS))
    console().print(table)


def _plain_cells(rows: list[dict[str, Any]]) -> list[list[str]]:
    """Each row's cells, ``safe`` to print: looked at a row at a time, as almost every row is
    printable as it is (50,000 rows: a tenth of the time of a ``safe`` call per cell)."""
    cells = []
    for r in rows:
        row = [str(r[k]) for k in LIST_COLUMNS]
        cells.append(row if "".join(row).isprintable() else [safe(cell) for cell in row])
    return cells


def plain_table(cells: list[list[str]]) -> str:
    """``cells`` under the list's headers, columns two spaces apart, as rich prints a short list."""
    cells = [list(_HEADERS), *cells]
    widths = [max(map(len, column)) for column in list(zip(*cells, strict=True))[:-1]]
    line = "  ".join(f"{{:<{w}}}" for w in widths) + "  {}"
    return "\n".join(line.format(*row).rstrip() for row in cells)


def show_run(result: dict[str, Any], as_json: bool) -> None:
    """A ``RunStatus`` as its JSON (``--json``) or as lines for a person."""
    if as_json:
        print_json(result)
        return
    where = {
        "human_review": "waiting for a human: `aios review approve` or `aios review reject --feedback ...`",
        "escalation": "escalated to a human: `aios review reject --feedback ...` to retry, or approve",
        "builder": "waiting for the builder: commit the revision on its branch, then `aios review submit`",
        None: "finished" if result["merged"] else "stopped",
    }[result["waiting_for"]]
    head = f"{result['task']}: {result['status']}, round {result['round']}, verdict {result['verdict']}"
    echo(f"{head}; {where}")
    for reason in result["reasons"]:
        echo(f"  - {reason}")
    for f in result["findings"]:
        where = f"{f['file']}:{f['line']}" if f["file"] and f["line"] else (f["file"] or "change")
        label = f"{f['severity']:<8} {f['dimension']} {where} {f['rule'] or f['persona'] or ''}"
        echo(f"  {label}: {f['message']}")
    if result["note"]:
        echo(result["note"])
