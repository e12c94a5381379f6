"""Build the new graph from a user's `.py` (or a `.meta`), filling in shapes left undefined.

The `.py` runs in a fresh tf.Graph with eager execution off; if it defines `build_graph()`,
that is called too. A root variable-scope custom getter watches every `get_variable` call:
one that leaves the shape undefined gets the shape `shape_for(name)` proposes. While planning,
a variable nobody can propose a shape for is created with an unknown static shape, so that the
graph still builds and the matcher can resolve it; when applying, the plan's resolutions are
proposed and every shape is known.
"""

from __future__ import annotations

import os
import runpy
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from graphdiff import storage
from graphdiff.errors import BadInput
from graphdiff.messages import collected
from graphdiff.tf_import import tensorflow

ShapeFor = Callable[[str], "tuple[int, ...] | None"]


@dataclass
class BuiltGraph:
    graph: object  # tf.Graph
    kind: str  # "python" or "meta"
    undefined_shapes: dict[str, tuple[int, ...] | None] = field(default_factory=dict)
    saver_def: object = None  # from a .meta, when it has one
    messages: list[str] = field(default_factory=list)  # warnings, log lines, prints of the .py
    sources: list[str] = field(default_factory=list)  # the user's modules the .py imported


def build_new_graph(path: str | os.PathLike, shape_for: ShapeFor | None = None) -> BuiltGraph:
    """Build the graph described by `path` (.py or .meta, which may be remote) in a fresh tf.Graph.

    What the user's code says while it runs (Python warnings, log records, prints) is kept in
    `messages` instead of reaching standard output or error.
    """
    text = os.fspath(path)
    if text.endswith(".meta"):
        return _build_from_meta(text)
    if not text.endswith(".py"):
        raise BadInput(path, "the new graph must be a .py file that builds it, or a .meta file")
    if storage.is_remote(text):
        raise BadInput(path, "a new graph's .py must be a local file (a .meta may be remote)")
    file = Path(text)
    if not file.is_file():
        raise BadInput(path, "no such file" if not file.exists() else "is not a file")
    return _build_from_python(file, shape_for or (lambda name: None))


def _build_from_python(file: Path, shape_for: ShapeFor) -> BuiltGraph:
    tf = tensorflow()
    tf.compat.v1.disable_eager_execution()
    built = BuiltGraph(graph=tf.Graph(), kind="python")
    getter = _shape_filling_getter(tf, shape_for, built.undefined_shapes)
    modules_before = set(sys.modules)
    sys.path.insert(0, str(file.parent.resolve()))
    try:
        with built.graph.as_default(), collected(built.messages):
            root = tf.compat.v1.get_variable_scope()
            with tf.compat.v1.variable_scope(root, custom_getter=getter):
                namespace = runpy.run_path(str(file), run_name="__graphdiff_new_graph__")
                if callable(namespace.get("build_graph")):
                    namespace["build_graph"]()
    except SystemExit as error:
        raise BadInput(file, f"exited with status {error.code} while building the graph") from None
    except Exception as error:  # the user's code may raise anything
        raise BadInput(file, f"raised {_where(error, file)}") from None
    finally:
        sys.path.remove(str(file.parent.resolve()))
    if not built.graph.get_collection(tf.compat.v1.GraphKeys.GLOBAL_VARIABLES) and not any(
        op.type in ("VariableV2", "VarHandleOp") for op in built.graph.get_operations()
    ):
        raise BadInput(file, "built a graph with no variables: nothing to restore into")
    built.sources = user_sources(file, modules_before)
    return built


def user_sources(file: Path, modules_before: set[str]) -> list[str]:
    """The Python files, other than `file`, whose code built the graph: modules imported while
    it ran, and modules of its own directory tree, leaving out the standard library and
    installed packages. A plan records their fingerprints: a layer swapped in `model.py` changes
    the graph as surely as an edit of `new_graph.py`."""
    project = file.parent.resolve()
    roots = _installed_roots()
    installed = tuple(root.rstrip(os.sep) + os.sep for root in roots)
    installed_resolved = {Path(root).resolve() for root in roots}
    this_file = file.resolve()
    found = set()
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if not path or not path.endswith(".py") or path.startswith(installed):
            continue  # the cheap test first: most modules are TensorFlow's, in site-packages
        resolved = Path(path).resolve()
        if resolved == this_file or any(root in resolved.parents for root in installed_resolved):
            continue
        if name not in modules_before or project in resolved.parents:
            found.add(str(resolved))
    return sorted(found)


def _installed_roots() -> set[str]:
    import site
    import sysconfig

    paths = sysconfig.get_paths()
    roots = {paths["stdlib"], paths["platstdlib"], paths["purelib"], paths["platlib"]}
    return roots | set(site.getsitepackages()) | {site.getusersitepackages()}


def variable_objects(graph) -> dict:
    """Variable op name -> its Python Variable, for every variable some collection holds."""
    tf = tensorflow()
    objects = {}
    for key in graph.get_all_collection_keys():
        for item in graph.get_collection(key):
            if isinstance(item, tf.Variable):
                objects.setdefault(item.op.name, item)
    return objects


def _shape_filling_getter(tf, shape_for: ShapeFor, record: dict):
    def shape_filling_getter(getter, name, *args, **kwargs):  # TF passes these by keyword
        shape = kwargs.get("shape")
        initializer = kwargs.get("initializer")
        from_value = isinstance(initializer, tf.Tensor) or _is_literal(initializer)
        if from_value or tf.TensorShape(shape).is_fully_defined():
            return getter(name, *args, **kwargs)
        proposed = shape_for(name)
        record[name] = proposed
        if proposed is not None:
            kwargs["shape"] = proposed
            return getter(name, *args, **kwargs)
        dtype = tf.as_dtype(kwargs.get("dtype") or tf.float32)
        kwargs["shape"] = None
        kwargs["validate_shape"] = False
        kwargs["initializer"] = tf.compat.v1.placeholder_with_default(
            tf.zeros([0], dtype=dtype.base_dtype), shape=None, name="graphdiff_unknown_shape"
        )
        return getter(name, *args, **kwargs)

    return shape_filling_getter


def _is_literal(value) -> bool:
    import numpy as np

    return isinstance(value, (np.ndarray, list, tuple, int, float))


def _build_from_meta(file: str) -> BuiltGraph:
    from graphdiff.loading import read_meta_graph

    tf = tensorflow()
    tf.compat.v1.disable_eager_execution()
    meta = read_meta_graph(file)
    built = BuiltGraph(graph=tf.Graph(), kind="meta")
    with built.graph.as_default():
        try:
            tf.compat.v1.train.import_meta_graph(meta)  # devices kept for the written .meta
        except Exception as error:
            raise BadInput(file, f"cannot be imported: {str(error).splitlines()[0]}") from None
    built.saver_def = meta.saver_def if meta.HasField("saver_def") else None
    return built


def _where(error: Exception, file: Path) -> str:
    """'ValueError at line 12: message' — the user's own line, not TensorFlow's."""
    line = None
    for frame in traceback.extract_tb(error.__traceback__):
        if Path(frame.filename).resolve() == file.resolve():
            line = frame.lineno
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    at = f" at line {line}" if line else ""
    return f"{type(error).__name__}{at}: {message}".rstrip(": ")
