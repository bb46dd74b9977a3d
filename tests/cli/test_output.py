"""What the CLI prints: user text escaped, never rendered as markup or terminal control."""

from __future__ import annotations


def test_user_text_is_printed_escaped(cli) -> None:
    title = "Fix [bold]it[/bold]"
    cli("task", "new", "--queue", "dev", "--title", title, "--criterion", "a")
    reason = "cleared\x1b[2J\x1b]0;pwned\x07 [red]x[/red]"
    cli("task", "approve", "TASK_DEV_0001", "--reason", reason)
    status = cli("task", "status", "TASK_DEV_0001").stdout
    assert "\x1b" not in status and "\x07" not in status
    assert "by alice  cleared\\x1b[2J\\x1b]0;pwned\\x07 [red]x[/red]\n" in status
    listing = cli("task", "list").stdout
    assert "Fix [bold]it[/bold]" in listing  # rich markup printed as written, not rendered
