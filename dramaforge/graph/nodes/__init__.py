"""One module per stage of the graph; ``graph/build.py`` wires them."""
