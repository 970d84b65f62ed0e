"""Doors for other programs and people: the workspace, MCP, LangChain tools, LangGraph Server
and the web studio; the five episode operations are declared once in ``operations.py``."""
