"""The compiled graph for ``langgraph dev`` / LangGraph Server (it supplies the checkpointer).

A run needs only the input (``script_path`` and ``options``, see ``graph/state.py``): with no
``RenderContext`` passed, the nodes build one from ``Settings()`` (``dramaforge.toml`` and the
environment of the server) for the episode's output folder (``graph/context.py``).
"""

from dramaforge.graph.build import build_graph

graph = build_graph()
