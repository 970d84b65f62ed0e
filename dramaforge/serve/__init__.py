"""Doors for other programs and people: the workspace, MCP, LangChain tools and the web studio."""
