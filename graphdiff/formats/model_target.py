"""NEW as a `.py` whose `build_model()` returns a Keras 3 model or a tf.Module.

`model_new_model(path)` builds the model eagerly, names its variables (model_variables.py:
Keras paths, or object paths for a tf.Module) and traces its forward pass into a DAG
(trace.py). `built_target(path)` is the same build for apply, with the variables by name.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphdiff.errors import BadInput
from graphdiff.formats.base import NEW_KERAS, NEW_MODULE, NewModel
from graphdiff.formats.model_variables import ModelVariable, keras_variables, module_variables
from graphdiff.formats.python_model import KERAS, BuiltModel, build_model
from graphdiff.formats.trace import trace_dag
from graphdiff.graph_model import VariableNode


@dataclass
class BuiltTarget:
    built: BuiltModel
    kind: str  # NEW_KERAS or NEW_MODULE
    variables: dict[str, ModelVariable]


def built_target(path: str) -> BuiltTarget:
    """Build NEW's model and name its variables; BadInput naming the file when it has none."""
    built = build_model(path)
    if built.kind == KERAS:
        kind, variables = NEW_KERAS, keras_variables(built.model)
    else:
        kind, variables = NEW_MODULE, module_variables(built.model)
    if not variables:
        raise BadInput(path, "build_model() made a model with no weights: nothing to restore into")
    return BuiltTarget(built, kind, variables)


def model_new_model(path: str) -> NewModel:
    """The NewModel of a build_model() file: traced DAG, variables in the order they are saved."""
    target = built_target(path)
    dag = trace_dag(target.built, target.variables)
    table = {
        name: VariableNode(name, "VarHandleOp", v.dtype, v.shape)
        for name, v in target.variables.items()
    }
    counted = frozenset(name for name, v in target.variables.items() if v.counted)
    within = {name: v.within for name, v in target.variables.items()}
    return NewModel(
        target.kind, dag, table, messages=target.built.messages, counted=counted, within=within
    )
