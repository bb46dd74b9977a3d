"""The review graph as LangGraph Server loads it: ``langgraph.json`` names ``graph`` here.

Compiled without a checkpointer: the server persists every thread itself. A run's context is the
plain-data ``RunSpec`` (``workflow.context``); ``aios review run|approve|reject`` send it when
``AIOS_LANGGRAPH_URL`` (or ``backends.langgraph``) names the server, and the nodes build their
callables from it in the server's process. The server reads and writes the workspace the spec
names, so it runs where that folder is (the same machine, or a shared one).
"""

from __future__ import annotations

from orchestrator.workflow.graph import build_graph

graph = build_graph()
