"""Directing in a conversation: the command REPL, the chat agent and the views they print."""
