"""The LangGraph state machine: state, nodes, wiring, checkpoints and running."""
