"""Doors for other programs: the workspace, the MCP server, LangChain tools, LangGraph Server."""
