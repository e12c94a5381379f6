"""graphdiff: restore a TensorFlow checkpoint into a graph that has changed.

`make_plan` diffs the old meta graph and the new graph into a Plan (plain data);
`apply_plan` writes a checkpoint for the new graph from it; `restore_into_session` applies it
to a live session. TensorFlow is imported only when one of them runs.
"""

__version__ = "0.1.0"
