"""The Source of a tf.keras 2 file, once its weights are paired with a Keras 3 model.

Shared by the legacy `.h5` (keras2_h5.py) and the TF-format checkpoint (keras2_checkpoint.py):
the Keras 3 model is traced for the DAG and names its variables by their Keras 3 paths (as a
Keras 3 source does, model_variables.py), each stored where the pairing found it. A stored
key no variable took keeps its own name, with the reason as a note: the plan lists it unused
and says why. Notes on paired keys (a weight tf.keras 2 named otherwise) go into the plan's
reasons too.
"""

from __future__ import annotations

from graphdiff.formats.base import Source
from graphdiff.formats.keras2_pairing import Pairing
from graphdiff.formats.model_variables import keras_variables
from graphdiff.formats.python_model import BuiltModel
from graphdiff.formats.trace import trace_dag
from graphdiff.loading import TensorSpec
from graphdiff.roles import MODEL, Role


def keras2_source(
    kind: str,
    values_path: str,
    built: BuiltModel,
    pairing: Pairing,
    specs: dict[str, TensorSpec],
    other_roles: dict[str, Role],
    model_file: str | None,
) -> Source:
    """`other_roles`: the stored keys that are not layer weights (optimizer state, a step)."""
    variables = keras_variables(built.model)
    table, stored_as, roles, notes = {}, {}, {}, {}
    for name, variable in variables.items():
        key = pairing.keys.get(id(variable.variable))
        if key is None:
            continue  # a Keras 3 variable the file has no value for: a DAG node, no key
        table[name], stored_as[name], roles[name] = specs[key], key, Role(MODEL)
        if key in pairing.notes:
            notes[name] = pairing.notes[key]
    for key, why in pairing.unpaired.items():
        table[key], roles[key], notes[key] = specs[key], Role(MODEL), why
    for key, role in other_roles.items():
        table[key], roles[key] = specs[key], role
    return Source(
        kind,
        trace_dag(built, variables),
        table,
        values_path,
        model_file=model_file,
        stored_as=stored_as,
        roles=roles,
        counted=frozenset(n for n, v in variables.items() if v.counted and n in table),
        layered=True,
        notes=notes,
    )
