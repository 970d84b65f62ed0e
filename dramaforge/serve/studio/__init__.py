"""``dramaforge studio``: a local web board over a workspace, through the session's operations."""

from dramaforge.serve.studio.app import create_app, serve

__all__ = ["create_app", "serve"]
