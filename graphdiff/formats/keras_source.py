"""OLD as Keras 3 weights: a `.weights.h5` (or `.keras`) and the `.py` that builds its model.

The weights file alone has no graph and names nothing a person chose (`layers/dense_1/vars/0`
counts layers by class), so `--old-model OLD.py` builds the model it was saved from; a
`.keras` archive carries its own config and may do without. The model gives the DAG (traced)
and the names (Keras paths, see model_variables.py); Keras's own saving walk says which h5
path holds each variable, and the values are read from those paths. The file must be the
model's, exactly: a path missing, a shape that differs or weights the model does not have are
a BadInput naming the file (an h5 from another model is the mistake this catches).
"""

from __future__ import annotations

from graphdiff.errors import BadInput
from graphdiff.formats.base import Source
from graphdiff.formats.h5_values import H5Values
from graphdiff.formats.model_variables import keras_variables
from graphdiff.formats.python_model import (
    KERAS,
    BuiltModel,
    build_model,
    keras_input_signature,
    keras_module,
)
from graphdiff.formats.trace import trace_dag
from graphdiff.loading import TensorSpec
from graphdiff.match.core import format_shape
from graphdiff.roles import MODEL, OPTIMIZER, Role

OPTIMIZER_PREFIX = "optimizer/"  # a compiled .keras archive keeps its optimizer's state here


def keras_source(path: str, kind: str, old_model: str | None) -> Source:
    """The Source for a `.weights.h5` / `.keras` at `path`, its model built by `old_model`."""
    values = H5Values(path)
    try:
        stored = values.specs()
    finally:
        values.close()
    if old_model is not None:
        built = build_model(old_model, "--old-model")
        if built.kind != KERAS:
            raise BadInput(
                old_model, "--old-model builds a tf.Module; Keras weights come from a Keras model"
            )
    elif path.endswith(".keras"):
        built = model_of_archive(path)
    else:
        raise BadInput(
            path,
            "a .weights.h5 holds no model: give the .py that builds the model it was saved "
            "from with --old-model OLD.py",
        )
    variables = keras_variables(built.model)
    _check_same_model(path, built.file, variables, stored)
    dag = trace_dag(built, variables)
    specs = {name: stored[v.stored_at] for name, v in variables.items()}
    stored_as = {name: v.stored_at for name, v in variables.items()}
    roles = {name: Role(MODEL) for name in specs}
    for key in stored:
        if key.startswith(OPTIMIZER_PREFIX):
            specs[key], roles[key] = stored[key], Role(OPTIMIZER)
    counted = frozenset(name for name, v in variables.items() if v.counted)
    return Source(
        kind,
        dag,
        specs,
        path,
        model_file=old_model,
        stored_as=stored_as,
        roles=roles,
        counted=counted,
        layered=True,
        within={name: v.within for name, v in variables.items()},
    )


def model_of_archive(path: str) -> BuiltModel:
    """The model a .keras archive's config builds, its weights loaded (load_model)."""
    keras = keras_module(path)
    keras.backend.clear_session()
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as error:  # custom layers, lambdas refused by safe mode, a damaged config
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise BadInput(
            path,
            f"its model cannot be rebuilt from its config ({first}); give the .py that builds it "
            "with --old-model OLD.py",
        ) from None
    return BuiltModel(model, KERAS, keras_input_signature(model), path)


def _check_same_model(path: str, model_file: str, variables, stored: dict[str, TensorSpec]):
    """The file holds exactly the model's weights, each where Keras puts it, of its shape."""
    for name, variable in variables.items():
        spec = stored.get(variable.stored_at)
        if spec is None:
            raise BadInput(
                path,
                f"was not saved from the model {model_file} builds: it has nothing at "
                f"{variable.stored_at!r}, where Keras keeps '{name}'",
            )
        if tuple(spec.shape) != variable.shape:
            raise BadInput(
                path,
                f"was not saved from the model {model_file} builds: {variable.stored_at!r} is "
                f"{format_shape(spec.shape)}, the model's '{name}' is "
                f"{format_shape(variable.shape)}",
            )
    claimed = {v.stored_at for v in variables.values()}
    extra = [k for k in stored if k not in claimed and not k.startswith(OPTIMIZER_PREFIX)]
    if extra:
        more = f" and {len(extra) - 3} more" if len(extra) > 3 else ""
        raise BadInput(
            path,
            f"was not saved from the model {model_file} builds: it holds weights the model does "
            f"not have ({', '.join(extra[:3])}{more})",
        )
