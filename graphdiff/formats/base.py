"""What a format gives the rest of graphdiff: a Source (OLD) and a NewModel (NEW).

Both carry a DAG in graph_model's conventions (op names as nodes; variables are VariableV2 /
VarHandleOp nodes named as the plan names them) and a variable table. Nothing here reads a
file: the format modules fill these in; planning.py and apply read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from graphdiff.graph_model import VariableNode
from graphdiff.loading import TensorSpec
from graphdiff.roles import Role

# Old sides, by what holds the values: a tensor bundle (TF1, TF2, SavedModel) or Keras's h5.
TF1_META = "tf1_meta"  # .meta + name-based checkpoint
TF1_CHECKPOINT = "tf1_checkpoint"  # a name-based checkpoint without its .meta
TF2_CHECKPOINT = "tf2_checkpoint"  # object-based (tf.train.Checkpoint)
KERAS_WEIGHTS = "keras_weights"  # .weights.h5
KERAS_ARCHIVE = "keras_archive"  # .keras (a zip holding model.weights.h5)
SAVED_MODEL = "saved_model"  # a SavedModel directory (its variables/ bundle)
KERAS2_H5 = "keras2_h5"  # a legacy tf.keras 2 .h5: a whole model, or its weights
KERAS2_CHECKPOINT = "keras2_checkpoint"  # tf.keras 2 save_weights("prefix"): layer-N paths
OLD_KINDS = (
    TF1_META,
    TF1_CHECKPOINT,
    TF2_CHECKPOINT,
    KERAS_WEIGHTS,
    KERAS_ARCHIVE,
    SAVED_MODEL,
    KERAS2_H5,
    KERAS2_CHECKPOINT,
)
BUNDLE_KINDS = frozenset({TF1_META, TF1_CHECKPOINT, TF2_CHECKPOINT, SAVED_MODEL, KERAS2_CHECKPOINT})
H5_KINDS = frozenset({KERAS_WEIGHTS, KERAS_ARCHIVE, KERAS2_H5})

# New sides: a TF1 graph (.py run in graph mode, or a .meta), or a build_model() .py.
NEW_PYTHON = "python"  # a TF1 graph built by a .py
NEW_META = "meta"
NEW_KERAS = "keras"  # build_model() returns a Keras 3 model: apply writes .weights.h5
NEW_MODULE = "module"  # build_model() returns a tf.Module: apply writes a tf.train.Checkpoint
NEW_KINDS = (NEW_PYTHON, NEW_META, NEW_KERAS, NEW_MODULE)
MODEL_KINDS = frozenset({NEW_KERAS, NEW_MODULE})

NO_GRAPH = "no computation graph on the old side"


@dataclass
class Source:
    """The old side: its DAG, its variables, and where their values are stored.

    `specs` maps every name the plan may cite to its dtype and shape; `stored_as` maps a name
    to its key in the stored file when the two differ (a Keras path and its h5 path, say).
    `roles` holds what the format knows of each name's role (None: read them from the DAG).
    `graph_note` says why the DAG has no computation (variables only), when it has none.
    `notes` says, per name, what the plan should tell of it beyond how it matched (a weight
    the old file named otherwise; why a stored key is left out).
    """

    kind: str
    dag: nx.DiGraph
    specs: dict[str, TensorSpec]
    values_path: str  # a tensor bundle's prefix, or the .weights.h5 / .keras file
    has_values: bool = True
    graph_file: str | None = None  # the .meta (or saved_model.pb) the DAG came from
    model_file: str | None = None  # --old-model
    stored_as: dict[str, str] = field(default_factory=dict)
    roles: dict[str, Role] | None = None
    graph_note: str | None = None
    counted: frozenset[str] = frozenset()  # names made by counting (Keras's dense_1), not chosen
    layered: bool = False  # names are Keras layer paths: a scope is one layer, whole or nothing
    within: dict[str, str] = field(default_factory=dict)  # name -> Keras models around its layer
    notes: dict[str, str] = field(default_factory=dict)

    def stored_key(self, name: str) -> str:
        return self.stored_as.get(name, name)


@dataclass
class NewModel:
    """The new side: its DAG and variables (by plan name), and what building it left behind."""

    kind: str  # one of NEW_KINDS
    dag: nx.DiGraph
    variables: dict[str, VariableNode]
    undefined_shapes: dict = field(default_factory=dict)  # name -> shape proposed (TF1 only)
    partitions: dict = field(default_factory=dict)  # full name -> Partitioned (TF1 only)
    messages: list[str] = field(default_factory=list)
    counted: frozenset[str] = frozenset()  # names made by counting (Keras's dense_1), not chosen
    within: dict[str, str] = field(default_factory=dict)  # name -> Keras models around its layer
    sources: list[str] = field(default_factory=list)  # the user's modules the .py imported
    initial_shapes: dict = field(default_factory=dict)  # unknown static shape -> initial value's
