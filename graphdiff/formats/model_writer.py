"""apply for a build_model() target: fill the model's variables, save what it loads natively.

Checks first (fingerprints, the plan against the built model and the old values), then: the
model is built again (eagerly), every restored variable is assigned its source's value
(transforms applied), every other keeps the value its own initializer gave it, and the model
is saved the way it is loaded — a Keras model with `save_weights` (a `.weights.h5`), a
tf.Module with `tf.train.Checkpoint(model=module).write` — into a staging place beside the
output, then published whole. `--verify` builds the model once more, loads the written file
the way a user would (a Keras warning counts as a failure) and compares every value.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from graphdiff import storage
from graphdiff.apply.checkpoint_files import existing_files, write_atomically
from graphdiff.apply.fingerprints import check_fingerprints
from graphdiff.apply.targets import check_entries
from graphdiff.errors import BadInput, VerificationFailed
from graphdiff.formats.base import NEW_KERAS
from graphdiff.formats.model_target import BuiltTarget, built_target
from graphdiff.formats.model_variables import MODULE_ROOT
from graphdiff.match.core import format_shape
from graphdiff.messages import collected
from graphdiff.plan import Plan
from graphdiff.transforms import apply_transforms, transformed_spec

H5_SUFFIX = ".weights.h5"


def apply_to_model(
    plan: Plan, output: str, force: bool, where: str, verify: bool, messages, after_write=None
):
    """Write the plan's model weights at `output` (checked, staged, published); return it.
    `after_write(staged)` runs on the staged file (or prefix) before it is published; if it
    raises, nothing is published (apply --verify-outputs)."""
    keras_target = plan.provenance.new_graph_kind == NEW_KERAS
    output = _checked_output(output, keras_target)
    for old in plan.provenance.old_sources:
        if storage.same_path(output, old.checkpoint_prefix):
            raise BadInput(output, "is where the plan's old values are; write elsewhere")
    check_fingerprints(plan)
    check_entries(plan.variables, where)
    if _exists(output, keras_target) and not force:
        raise BadInput(output, "already exists; pass --force to replace it")
    target = built_target(plan.provenance.new_graph.path)
    if messages is not None:
        messages.extend(target.built.messages)
    check_model(plan, target, where)
    values = _restored_values(plan, target, where)
    for name, value in values.items():
        target.variables[name].variable.assign(value)

    def then_check(save):
        def write(staged: str) -> None:
            save(staged)
            if after_write is not None:
                after_write(staged)

        return write

    if keras_target:
        save = then_check(lambda path: _save_keras(target, path, plan, values, verify))
        _publish_file(output, save, force)
    else:
        save = then_check(lambda prefix: _save_module(target, prefix, values, verify, plan))
        write_atomically(output, save, force)
    return output


def _checked_output(output: str, keras_target: bool) -> str:
    if storage.is_remote(output):
        raise BadInput(output, "a model's weights are written to a local path")
    if keras_target and not output.endswith(H5_SUFFIX):
        raise BadInput(output, f"a Keras model's weights go to a file ending in {H5_SUFFIX}")
    if os.path.isdir(output):
        raise BadInput(output, "names a directory; give a file or checkpoint prefix in it")
    return storage.absolute(output)


def _exists(output: str, keras_target: bool) -> bool:
    return os.path.exists(output) if keras_target else bool(existing_files(output))


def check_model(plan: Plan, target: BuiltTarget, where: str) -> None:
    """Every variable of the model has one entry of its dtype and shape, and nothing else."""
    file = plan.provenance.new_graph.path
    entries = {entry.name: entry for entry in plan.variables}
    for name, variable in target.variables.items():
        entry = entries.get(name)
        if entry is None:
            raise BadInput(
                where, f"{name}: a variable of the model {file} has no entry; make the plan again"
            )
        if entry.dtype != variable.dtype or tuple(entry.shape or ()) != variable.shape:
            raise BadInput(
                where,
                f"{name}: {entry.dtype} {format_shape(entry.shape)} in the plan, "
                f"{variable.dtype} {format_shape(variable.shape)} in the model {file}; "
                "make the plan again",
            )
    for name in entries:
        if name not in target.variables:
            raise BadInput(where, f"{name}: in the plan but not a variable of the model {file}")


def _restored_values(plan: Plan, target: BuiltTarget, where: str) -> dict[str, np.ndarray]:
    """Name -> value for every restored entry, read from its source and transformed."""
    from graphdiff.apply.old_values import OldValues

    sources = OldValues(plan)
    values = {}
    try:
        for entry in plan.restored:
            reader, key = sources.of(entry), entry.stored_key
            spec = sources.specs(entry.source_name).get(key)
            if spec is None:
                prefix = plan.provenance.old_source(entry.source_name).checkpoint_prefix
                raise BadInput(where, f"{entry.name}: source {key!r} is not in {prefix}")
            variable = target.variables[entry.name]
            after = transformed_spec(spec, entry.transforms)
            if after.dtype != variable.dtype or tuple(after.shape) != variable.shape:
                raise BadInput(
                    where,
                    f"{entry.name}: source {key!r} gives {after.dtype} "
                    f"{format_shape(after.shape)}, the variable is {variable.dtype} "
                    f"{format_shape(variable.shape)}",
                )
            initial = variable.variable.numpy
            values[entry.name] = apply_transforms(reader.array(key), entry.transforms, initial)
    finally:
        sources.close()
    return values


# --- writing ---------------------------------------------------------------------------------


def _save_keras(target: BuiltTarget, path: str, plan: Plan, values, verify: bool) -> None:
    messages: list[str] = []
    with collected(messages):
        target.built.model.save_weights(path)
    if verify:
        check_keras_file(path, plan, values)


def check_keras_file(path: str, plan: Plan, values) -> None:
    """Load `path` into a model built afresh, as a user would; every value must be as planned."""
    fresh = built_target(plan.provenance.new_graph.path)
    heard: list[str] = []
    try:
        with collected(heard):
            fresh.built.model.load_weights(path)
    except Exception as error:
        raise VerificationFailed(f"load_weights refuses the written file: {error}") from None
    if heard:
        raise VerificationFailed(f"load_weights warned: {heard[0]}")
    _compare(fresh, values)


def _compare(fresh: BuiltTarget, values) -> None:
    for name, variable in fresh.variables.items():
        value = np.asarray(variable.variable.numpy())
        if name in values and value.tobytes() != np.asarray(values[name]).tobytes():
            raise VerificationFailed(f"{name}: differs from its source once loaded")
        if tuple(value.shape) != variable.shape:
            raise VerificationFailed(f"{name}: loaded with another shape")


def _save_module(target: BuiltTarget, prefix: str, values, verify: bool, plan: Plan) -> None:
    import tensorflow as tf

    tf.train.Checkpoint(**{MODULE_ROOT: target.built.model}).write(prefix)
    if verify:
        fresh = built_target(plan.provenance.new_graph.path)
        status = tf.train.Checkpoint(**{MODULE_ROOT: fresh.built.model}).read(prefix)
        try:
            status.assert_existing_objects_matched()
        except AssertionError as error:
            raise VerificationFailed(f"the written checkpoint does not restore: {error}") from None
        _compare(fresh, values)


def _publish_file(output: str, write, force: bool) -> None:
    """`write(staging_path)` beside `output`, then one rename puts it in place (without
    `force`, a link that refuses a file that appeared there meanwhile). The staging directory
    records its owner: one a killed apply left is removed by the next apply beside it."""
    directory = Path(output).parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BadInput(directory, f"cannot be created: {error.strerror or error}") from None
    from graphdiff.apply.checkpoint_files import make_staging, remove_abandoned_staging

    try:
        remove_abandoned_staging(directory)  # a killed apply's (--verify-outputs runs long)
        staging = make_staging(directory)
    except OSError as error:
        raise BadInput(directory, f"cannot be written: {error.strerror or error}") from None
    try:
        staged = os.path.join(staging, Path(output).name)
        write(staged)
        if force:
            os.replace(staged, output)
        else:
            os.link(staged, output)
    except FileExistsError:
        raise BadInput(output, "appeared while writing; pass --force to replace it") from None
    except OSError as error:
        raise BadInput(output, f"cannot be written: {error.strerror or error}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
