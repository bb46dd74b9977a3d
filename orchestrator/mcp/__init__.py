"""The MCP shell: ``aios mcp`` serves the agent lifecycle to any MCP client (stdio or HTTP).

A shell like the CLI: each tool parses its typed arguments, calls the same service function the
CLI command calls (``governance``, ``workflow.runs``, ``state``) and returns the command's
``--json`` keys. Who may do what is decided by ``governance.authority`` alone; a refusal comes
back as a tool error naming the rule. Only this package (and ``cli/mcp.py``) imports the ``mcp``
SDK, and only when ``aios mcp`` runs.
"""
