"""graphdiff: restore a TensorFlow checkpoint into a graph that has changed.

`make_plan` diffs the old meta graph and the new graph into a Plan (plain data);
`apply_plan` writes a checkpoint for the new graph from it; `restore_into_session` applies it
to a live session, whose graph the user's own code builds within `resolved_shapes(plan)` (the
shapes the plan took from the checkpoint); `render_plan` draws it; `verify_plan` runs the old
and the new graph on the same inputs and compares what they share (`verify_sources`: each
named source against its own old graph). TensorFlow and graphviz are
imported only when one of them runs, so `import graphdiff` (and `graphdiff --help`) stays
instant.
"""

from importlib import import_module

__version__ = "0.1.0"

_API = {
    "make_plan": "graphdiff.planning",
    "apply_plan": "graphdiff.apply.executor",
    "restore_into_session": "graphdiff.apply.executor",
    "resolved_shapes": "graphdiff.resolved",
    "render_plan": "graphdiff.view.render",
    "read_plan": "graphdiff.plan_io",
    "write_plan": "graphdiff.plan_io",
    "verify_plan": "graphdiff.verify",
    "VerifyReport": "graphdiff.verify",
    "verify_sources": "graphdiff.source_verify",
    "Plan": "graphdiff.plan",
    "Options": "graphdiff.plan",
}
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        return getattr(import_module(_API[name]), name)
    raise AttributeError(f"module 'graphdiff' has no attribute {name!r}")
