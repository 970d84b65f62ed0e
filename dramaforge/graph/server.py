"""The compiled graph for ``langgraph dev`` / LangGraph Server (it supplies the checkpointer).

Callers pass a ``RenderContext`` as the run's context; see ``graph/run.py`` for how.
"""

from dramaforge.graph.build import build_graph

graph = build_graph()
