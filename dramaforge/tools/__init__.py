"""Backends behind one Protocol per modality, found through the ``dramaforge.backends`` registry."""
