"""Doors for other programs and people: the workspace, MCP, LangChain tools, LangGraph Server
and the web studio; the episode operations (and the batch) are declared once in
``operations.py``."""
