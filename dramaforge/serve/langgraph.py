"""The compiled graph for ``langgraph dev`` / LangGraph Server (it supplies the checkpointer).

``langgraph.json`` names it by module (``dramaforge.serve.langgraph:graph``), so the server
can run in any folder: that folder (or ``DRAMAFORGE_WORKSPACE``) is the only one a run may
read scripts from and write episodes to, and a path outside it is refused with a message
saying so. A run needs only the input (``script_path`` and ``options``, see
``graph/state.py``); the server passes a context dict (or none), and the nodes build the
``RenderContext`` from ``Settings()`` (``dramaforge.toml`` and the environment of the server)
for the episode's output folder (``graph/context.py``). Per-shot progress is streamed from
the shot subgraphs: ask for ``stream_mode=["custom"]`` with ``stream_subgraphs=True``. A
dramaforge error reaches the stream as ``{"error": class, "message": what to do}``.
"""

from dramaforge.graph.build import build_graph

graph = build_graph()
