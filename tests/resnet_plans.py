"""Real plans at real scale, for the picture and `show`: tf_slim's resnet_v1_50 trained with Adam
(its `.meta` alone: no tensor is written), planned against a grown, a moved and a copied net.

    plans = ResnetPlans(tmp_dir)
    plans.path("deeper")  # resnet_v1_50 -> resnet_v1_101: block3 grows from 6 units to 23
    plans.path("moved")   # the whole net under tower_0/
    plans.path("towers")  # two copies of it, tower_0/ and tower_1/

Each old graph and plan is made once, on first use, in this process (the graph files stay where
the plan names them, so the picture can read its data-flow edges).
"""

from __future__ import annotations

import runpy
import sys
import warnings
from pathlib import Path

from corpus.cases import OLD_GRAPHS
from corpus.harness import write_source

NEW_GRAPHS = {
    "deeper": """
        with nets.variables():
            nets.resnet(101)
    """,
    "moved": """
        with nets.variables():
            with nets.scope("tower_0"):
                nets.resnet(50)
    """,
    "towers": """
        with nets.variables():
            for tower in ("tower_0", "tower_1"):
                with nets.scope(tower):
                    nets.resnet(50)
    """,
}


class ResnetPlans:
    def __init__(self, root: Path):
        self.root = Path(root)
        self._plans: dict[str, Path] = {}
        self._meta: Path | None = None

    def path(self, name: str) -> Path:
        """The plan's JSON file, made on first use."""
        if name not in self._plans:
            from graphdiff.plan_io import write_plan
            from graphdiff.planning import make_plan

            new_graph = write_source(self.root / name, "new_graph.py", NEW_GRAPHS[name], name)
            with warnings.catch_warnings():  # tf_slim's own deprecation notices
                warnings.simplefilter("ignore")
                plan = make_plan(self.old_meta(), new_graph)
            self._plans[name] = self.root / f"{name}.json"
            write_plan(plan, self._plans[name])
        return self._plans[name]

    def old_meta(self) -> Path:
        """resnet_v1_50 with Adam, exported as `model.ckpt.meta` (no checkpoint data)."""
        if self._meta is None:
            from graphdiff.tf_import import tensorflow

            tf = tensorflow()
            tf.compat.v1.disable_eager_execution()
            source = write_source(
                self.root / "old", "old_graph.py", OLD_GRAPHS["resnet50_adam"], "resnet50, Adam"
            )
            meta = self.root / "old" / "model.ckpt.meta"
            sys.path.insert(0, str(source.parent))
            try:
                with tf.Graph().as_default(), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    runpy.run_path(str(source), run_name="__resnet_old_graph__")["build_graph"]()
                    tf.compat.v1.train.export_meta_graph(filename=str(meta))
            finally:
                sys.path.remove(str(source.parent))
            self._meta = meta
        return self._meta
