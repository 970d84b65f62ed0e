"""The graph's shape is part of the design: a change shows up as a diff of this drawing."""

from __future__ import annotations

from pathlib import Path

from dramaforge.graph.build import build_graph

SNAPSHOT = Path(__file__).parent / "fixtures" / "graph.mmd"


def test_graph_matches_snapshot() -> None:
    drawing = build_graph().get_graph(xray=1).draw_mermaid()
    if not SNAPSHOT.exists():  # first run writes it; review and commit the file
        SNAPSHOT.write_text(drawing, encoding="utf-8")
    assert drawing == SNAPSHOT.read_text(encoding="utf-8")
    for edge in (
        "ingest --> direct",
        "direct --> bible",
        "bible --> approve",
        "approve --> cast",  # nothing is paid before approval: cast makes sheets and voices
        "cast --> ahead",  # the work made ahead is a node, not a thread hidden in approve
        "ahead -.-> shot\\3a__start__",
        "score --> assemble",
        "assemble --> review",
    ):
        assert edge in drawing
