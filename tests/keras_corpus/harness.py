"""Run the Keras corpus: save each old model for real, plan every run, score each plan.

A run is one case with one kind of old file (`KINDS`). `Workspace(root)` builds and trains
each old model once (one Adam step, so no value is its initializer's; `Untrained` ones,
keras.applications nets, as built), saves it as a
`.weights.h5`, a `.keras` archive and a `tf.train.Checkpoint`, or saves a TF1 graph with
Saver; it plans each run once, in this process, with `make_plan`.

Ground truth comes from how the case is built, never from graphdiff: the model files tag
their layers (`T("c2", layers.Conv2D(...))`, `tag_all(app, "mnv2")`; Keras never reads the
tag). The harness builds the old and the new model itself and reads, for every variable, its
plan name (graphdiff's naming contract, model_variables.keras_variables), its layer's tag and
its index among that layer's weights. A new variable must come from the old variable of the
same tag and index; it must be initialized when its tag is new, when the tagged layer changed
shape (a layer is a unit: one changed weight re-initializes all of them), or when the case
declares the tag undecidable (an identical layer among identical unnamed ones), listing its own
old variable and only the group's as candidates. For a TF1
old graph the case gives the checkpoint keys of each tag. For a `.keras` archive without
--old-model, the old names are those of the model Keras rebuilds from the archive (no
`sequential/` prefix), paired with the tags through the h5 path both models store at.

    precision = correct restores / all restores
    recall    = correct restores / expected restores
"""

from __future__ import annotations

import textwrap
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from keras_models import write_model

from .cases import ARCHIVE, ARCHIVE_PY, H5, TAGS, TF1, TF2, Case, OldTF1, Untrained

WITH_OLD_MODEL = (H5, ARCHIVE_PY, TF2)  # kinds planned with --old-model


class CaseError(Exception):
    """The case itself is wrong (an untagged variable, a TF1 key the checkpoint lacks)."""


@dataclass(frozen=True)
class Var:
    tag: str
    index: int  # among its tagged layer's weights
    shape: tuple[int, ...]


@dataclass
class Outcome:
    run: str
    case: str
    kind: str
    klass: int
    restores: int = 0
    correct: int = 0
    expected_restores: int = 0
    wrong: list[tuple[str, str | None, str, str]] = field(default_factory=list)
    # (new variable, expected source or None, restored from, match method)
    missed: list[tuple[str, str, str]] = field(default_factory=list)
    # (new variable, expected source, the plan's reason)
    split: list[str] = field(default_factory=list)  # new layers restored from several / partly
    candidate_faults: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def exact(self) -> bool:
        return not self.wrong and not self.missed


def run_id(case: Case, kind: str) -> str:
    return f"{case.name}[{kind}]"


def tagged_variables(model) -> dict[int, tuple[str, int]]:
    """id(variable) -> (tag, index among the tagged layer's weights); the deepest tag wins."""
    found = {}
    for layer in model._flatten_layers(include_self=True, recursive=True):
        tag = getattr(layer, "_corpus_tag", None)
        if tag is not None:
            for index, variable in enumerate(layer.weights):
                found[id(variable)] = (tag, index)
    return found


def plan_names(model, where: str) -> dict[str, tuple[Var, str]]:
    """Plan name -> (Var, h5 path) for every variable of a built Keras model."""
    from graphdiff.formats.model_variables import keras_variables

    tags = tagged_variables(model)
    found = {}
    for name, variable in keras_variables(model).items():
        if id(variable.variable) not in tags:
            raise CaseError(f"{where}: variable '{name}' belongs to no tagged layer")
        tag, index = tags[id(variable.variable)]
        found[name] = (Var(tag, index, tuple(variable.shape)), variable.stored_at)
    return found


def build(model_py: Path, seed: int = 0):
    """Build `model_py` as graphdiff does (BuiltModel: the model and its input signature)."""
    import keras

    from graphdiff.formats.python_model import build_model, eager_tensorflow

    eager_tensorflow()
    keras.utils.set_random_seed(seed)
    return build_model(str(model_py))


def train_one_step(built, seed: int = 0):
    """Fit one Adam step on random data shaped by the signature and the model's outputs."""
    import numpy as np
    import tensorflow as tf

    model = built.model
    rng = np.random.default_rng(seed)
    inputs = [rng.normal(size=(2, *s.shape[1:])).astype("float32") for s in built.signature]
    inputs = inputs[0] if len(inputs) == 1 else inputs
    outputs = tf.nest.map_structure(
        lambda t: rng.normal(size=t.shape).astype("float32"), model(inputs)
    )
    model.compile(optimizer="adam", loss="mse", run_eagerly=True)
    model.fit(inputs, outputs, batch_size=2, verbose=0)
    return model


@dataclass
class SavedOld:
    py: Path | None  # the old model file (None for a TF1 graph)
    files: dict[str, Path]  # kind -> what graphdiff is given as OLD
    names: dict[str, dict[tuple[str, int], tuple[str, tuple]]]  # kind -> (tag, i) -> name, shape
    stored_at: dict[str, tuple[str, int]] = field(default_factory=dict)  # h5 path -> (tag, i)


class Workspace:
    """Old files, plans and outcomes under `root`, each made once, on first use."""

    def __init__(self, root: Path, old_models: dict):
        self.root = Path(root)
        self.old_models = old_models
        self._old: dict[str, SavedOld] = {}
        self._new: dict[str, tuple[Path, dict]] = {}
        self._outcomes: dict[str, Outcome] = {}
        self.plans: dict[str, object] = {}

    def old(self, key: str, kind: str) -> SavedOld:
        if key not in self._old:
            spec = self.old_models[key]
            directory = self.root / "old" / key
            self._old[key] = (
                _save_tf1(spec, directory)
                if isinstance(spec, OldTF1)
                else _save_keras(spec, directory)
            )
        saved = self._old[key]
        if kind not in saved.files:
            raise CaseError(f"old model '{key}' has no {kind} file")
        if kind not in saved.names:
            saved.names[kind] = _archive_names(saved)
        return saved

    def new(self, case: Case) -> tuple[Path, dict[str, tuple[Var, str]]]:
        if case.name not in self._new:
            new_py = write_model(self.root / "new" / case.name, TAGS + textwrap.dedent(case.new))
            names = plan_names(build(new_py, seed=1).model, f"{case.name} (new)")
            self._new[case.name] = (new_py, names)
        return self._new[case.name]

    def outcome(self, case: Case, kind: str) -> Outcome:
        run = run_id(case, kind)
        if run not in self._outcomes:
            from graphdiff.planning import make_plan

            saved = self.old(case.old, kind)
            new_py, new_names = self.new(case)
            old_model = saved.py if kind in WITH_OLD_MODEL else None
            start = time.perf_counter()
            plan = make_plan(saved.files[kind], new_py, old_model=old_model)
            seconds = time.perf_counter() - start
            self.plans[run] = plan
            outcome = score(case, kind, plan, saved.names[kind], new_names)
            outcome.seconds = seconds
            self._outcomes[run] = outcome
        return self._outcomes[run]


def _save_keras(spec: str | Untrained, directory: Path) -> SavedOld:
    import tensorflow as tf

    body = spec.body if isinstance(spec, Untrained) else spec
    py = write_model(directory, TAGS + textwrap.dedent(body))
    built = build(py)
    files = {H5: directory / "model.weights.h5", TF2: directory / "tf2" / "ckpt"}
    if isinstance(spec, Untrained):
        model, objects = built.model, {"model": built.model}
    else:
        model = train_one_step(built)
        objects = {"model": model, "optimizer": model.optimizer}
    model.save_weights(str(files[H5]))
    tf.train.Checkpoint(**objects).write(str(files[TF2]))
    try:
        model.save(str(directory / "model.keras"))
        files[ARCHIVE] = files[ARCHIVE_PY] = directory / "model.keras"
    except Exception:  # a subclassed model without get_config: no archive, no such runs
        pass
    names = plan_names(model, f"{directory.name} (old)")
    by_tag = {(var.tag, var.index): (name, var.shape) for name, (var, _) in names.items()}
    stored_at = {stored: (var.tag, var.index) for var, stored in names.values()}
    return SavedOld(py, files, {H5: by_tag, TF2: by_tag, ARCHIVE_PY: by_tag}, stored_at)


def _archive_names(saved: SavedOld) -> dict:
    """(tag, index) -> name, shape in the model Keras rebuilds from the archive's config."""
    import keras

    from graphdiff.formats.model_variables import keras_variables

    keras.backend.clear_session()
    model = keras.saving.load_model(str(saved.files[ARCHIVE]), compile=False)
    found = {}
    for name, variable in keras_variables(model).items():
        found[saved.stored_at[variable.stored_at]] = (name, tuple(variable.shape))
    return found


def _save_tf1(spec: OldTF1, directory: Path) -> SavedOld:
    from corpus.harness import save_checkpoint, write_source

    source = write_source(directory, "old_graph.py", spec.body, "Old TF1 graph.")
    prefix = directory / "model.ckpt"
    keys = save_checkpoint(source, prefix)
    names = {}
    for tag, tag_keys in spec.keys.items():
        for index, key in enumerate(tag_keys):
            if key not in keys:
                raise CaseError(f"{directory.name}: '{key}' (of {tag}) not in the checkpoint")
            names[(tag, index)] = (key, keys[key])
    return SavedOld(None, {TF1: Path(f"{prefix}.meta")}, {TF1: names})


def expected_sources(case: Case, old_names: dict, new_names: dict) -> dict[str, str | None]:
    """New variable -> the old name it must be restored from, or None (initialize)."""
    undecidable = {tag for group in case.undecidable for tag in group}
    layers = defaultdict(list)
    for name, (var, _stored) in new_names.items():
        layers[var.tag].append((name, var))
    old_count = defaultdict(int)
    for tag, _index in old_names:
        old_count[tag] += 1
    expected = {}
    for tag, members in layers.items():
        same = old_count[tag] == len(members) and all(
            old_names.get((tag, var.index), (None, None))[1] == var.shape for _, var in members
        )
        for name, var in members:
            keep = same and tag not in undecidable
            expected[name] = old_names[(tag, var.index)][0] if keep else None
    return expected


def score(case: Case, kind: str, plan, old_names: dict, new_names: dict) -> Outcome:
    from graphdiff.plan import RESTORE

    planned = {e.name for e in plan.variables}
    if planned != set(new_names):
        raise CaseError(
            f"{case.name}: plan and model name variables differently: "
            f"{sorted(planned ^ set(new_names))[:4]}"
        )
    expected = expected_sources(case, old_names, new_names)
    old_tag = {name: tag for (tag, _i), (name, _s) in old_names.items()}
    outcome = Outcome(run_id(case, kind), case.name, kind, case.klass)
    sources = defaultdict(set)
    for entry in plan.variables:
        want = expected[entry.name]
        tag = new_names[entry.name][0].tag
        if want is not None:
            outcome.expected_restores += 1
        if entry.action == RESTORE:
            sources[tag].add(old_tag.get(entry.source, entry.source))
            outcome.restores += 1
            if entry.source == want:
                outcome.correct += 1
            else:
                method = entry.match.method if entry.match else "?"
                outcome.wrong.append((entry.name, want, entry.source, method))
        else:
            sources[tag].add(None)
            if want is not None:
                outcome.missed.append((entry.name, want, entry.reason))
    outcome.split = sorted(tag for tag, found in sources.items() if len(found) > 1)
    outcome.candidate_faults = _candidate_faults(case, plan, old_names, new_names)
    return outcome


def _candidate_faults(case: Case, plan, old_names: dict, new_names: dict) -> list[str]:
    """Undecidable layers: each of their variables lists its own old variable (a new layer:
    at least one of the group's) as a candidate, and nothing outside the group's."""
    faults = []
    for group in case.undecidable:
        for entry in plan.variables:
            var = new_names[entry.name][0]
            if var.tag not in group:
                continue
            allowed = {old_names[(t, var.index)][0] for t in group if (t, var.index) in old_names}
            own = old_names.get((var.tag, var.index), (None,))[0]
            listed = set(entry.candidates)
            if (own is not None and own not in listed) or not listed or not listed <= allowed:
                faults.append(
                    f"{entry.name}: candidates {list(entry.candidates)}, want {own or 'some'} "
                    f"of {sorted(allowed)}"
                )
    return faults


def totals(outcomes) -> tuple[float, float, int, int, int]:
    """(precision, recall, correct, restores, expected restores) over the outcomes."""
    outcomes = list(outcomes)
    correct = sum(o.correct for o in outcomes)
    restores = sum(o.restores for o in outcomes)
    expected = sum(o.expected_restores for o in outcomes)
    precision = correct / restores if restores else 1.0
    recall = correct / expected if expected else 1.0
    return precision, recall, correct, restores, expected


def figure(outcomes, title: str = "keras matcher corpus") -> str:
    outcomes = list(outcomes)
    precision, recall, correct, restores, expected = totals(outcomes)
    wrong_runs = sum(1 for o in outcomes if o.wrong)
    return (
        f"{title} ({len(outcomes)} runs, {wrong_runs} with a wrong restore): "
        f"precision {precision:.4f} ({correct}/{restores}), "
        f"recall {recall:.4f} ({correct}/{expected})"
    )


def per_class(outcomes) -> list[str]:
    from .cases import CLASSES

    groups = defaultdict(list)
    for outcome in outcomes:
        groups[outcome.klass].append(outcome)
    return [figure(groups[k], f"class {k} {CLASSES[k]}") for k in sorted(groups)]
