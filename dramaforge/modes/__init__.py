"""Render modes beyond one script to one episode: channel versions of a brief, an idea
expanded into a script, a product image or a music track driving the cut, style variants.

Each mode is a module that prepares inputs (a script file, a fitted plan, shared backends)
and then renders through the ordinary session, so checkpoints, the asset store and the
critic work exactly as they do for a plain render.
"""
