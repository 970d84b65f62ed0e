"""Agents: director (script -> shots), bible (consistency), critic (take review), episode review.

Each agent is its logic plus a call of a tool backend; no transport, storage or UI lives here.
``plugin.py`` registers the directors and critics as backends.
"""
