"""Benchmark: `graphdiff verify` on a Keras 3 ResNet50, against building and running both models.

The old model is keras.applications' ResNet50 (weights=None, 64x64 input) with a 10-class head,
its weights saved as a `.weights.h5`; the new model is the same net with a new 20-class head,
so that verify compares the features before the head. Setup (not timed) saves the old weights,
plans (`--old-model`) and applies, in a temporary directory.

The floor is what any check of the two models pays: importing TensorFlow and Keras, building
the old model from its `.py`, `load_weights`, one forward pass on a batch of 2, then the same
for the new model with the applied weights. A forward pass is run two ways, each its own floor:
compiled (`tf.function`, traced once and run, as `model.predict` runs a model) and eager
(`model(x)`, Python running each layer). Verify also traces both models (it needs their graphs
to find what they share), runs the traced graphs, and reads every restored variable upstream of
the features from both sides. All three are timed as whole fresh processes, interleaved,
--repeat times, median taken; CPU time (user + system) beside wall time, for a busy machine
(another process's load stretches wall time, not CPU time); peak memory is each process's
max RSS (wait4).

    python benchmarks/verify_keras_resnet.py [--repeat 3] [--keep DIR]

Prints the runs and last one line:
`RESULT ratio=1.05 verify=20.1s floor=19.2s cpu_ratio=1.04 eager_ratio=1.20 eager=16.7s
rss_ratio=1.10` (`ratio` and `cpu_ratio` against the compiled floor). Exits 0 whatever the
ratio (a benchmark, not a test); 1 if a run fails or verify does not pass.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from verify_resnet import measure, run

MODEL = """import keras
from keras import layers


def build_model():
    base = keras.applications.ResNet50(
        weights=None, include_top=False, input_shape=(64, 64, 3), pooling="avg"
    )
    return keras.Model(base.input, layers.Dense({classes}, name="{head}")(base.output))
"""

SAVE_OLD = """
import os, runpy, sys
os.environ["KERAS_BACKEND"] = "tensorflow"
import keras
model = runpy.run_path(sys.argv[1])["build_model"]()
model.save_weights(sys.argv[2])
"""

# The floor: both models built, their weights loaded and one forward pass of each, the plain way.
FLOOR = """
import os, runpy, sys
os.environ["KERAS_BACKEND"] = "tensorflow"
import numpy as np
import tensorflow as tf
import keras
old_py, old_weights, new_py, new_weights, mode = sys.argv[1:6]
images = np.random.default_rng(0).random((2, 64, 64, 3)).astype(np.float32)
for model_py, weights in ((old_py, old_weights), (new_py, new_weights)):
    model = runpy.run_path(model_py)["build_model"]()
    model.load_weights(weights)
    if mode == "eager":
        model(images, training=False)
    else:
        tf.function(lambda x: model(x, training=False))(images)
    del model
"""


def setup(work: Path) -> Path:
    old_py, new_py = work / "old_model.py", work / "new_model.py"
    old_py.write_text(MODEL.format(classes=10, head="head"))
    new_py.write_text(MODEL.format(classes=20, head="new_head"))
    weights = work / "old.weights.h5"
    print(f"setup in {work}: saving the old weights, planning, applying ...", flush=True)
    start = time.perf_counter()
    graphdiff = [sys.executable, "-m", "graphdiff"]
    plan = work / "plan.json"
    for command in (
        [sys.executable, "-c", SAVE_OLD, str(old_py), str(weights)],
        [
            *graphdiff,
            "plan",
            str(weights),
            str(new_py),
            "--old-model",
            str(old_py),
            "-o",
            str(plan),
        ],
        [*graphdiff, "apply", str(plan), "--force", "--quiet"],
    ):
        run(command, work)
    print(f"setup took {time.perf_counter() - start:.1f}s")
    return plan


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="graphdiff-verify-keras-bench-") as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        plan_path = setup(work)
        verify = [sys.executable, "-m", "graphdiff", "verify", str(plan_path), "--format", "json"]
        report = json.loads(run(verify, work)[2])
        if report["verdict"] != "identical":
            raise SystemExit(f"verify did not pass: {report['verdict']}")
        print("compared:", ", ".join(f"{t['new']} ~ {t['old']}" for t in report["tensors"]))
        plan = json.loads(plan_path.read_text())
        models = [str(work / "old_model.py"), str(work / "old.weights.h5")]
        models += [str(work / "new_model.py"), plan["output_prefix"]]
        commands = {
            "floor": [sys.executable, "-c", FLOOR, *models, "compiled"],
            "eager": [sys.executable, "-c", FLOOR, *models, "eager"],
            "verify": verify,
        }
        times: dict[str, list[float]] = {label: [] for label in commands}
        cpu: dict[str, list[float]] = {label: [] for label in commands}
        memory: dict[str, list[float]] = {label: [] for label in commands}
        for index in range(args.repeat):
            for label, command in commands.items():
                seconds, used, rss, _ = measure(command, work)
                times[label].append(seconds)
                cpu[label].append(used)
                memory[label].append(rss)
                print(
                    f"run {index + 1}: {label:6s} {seconds:6.2f}s  cpu {used:6.2f}s  "
                    f"{rss:7.0f} MiB",
                    flush=True,
                )
    median = {label: statistics.median(values) for label, values in times.items()}
    cpu_median = {label: statistics.median(values) for label, values in cpu.items()}
    rss = {label: statistics.median(values) for label, values in memory.items()}
    print(
        f"\nmedian of {args.repeat}: "
        + ", ".join(
            f"{label} {median[label]:.2f}s (cpu {cpu_median[label]:.2f}s) {rss[label]:.0f} MiB"
            for label in commands
        )
    )
    print(
        f"RESULT ratio={median['verify'] / median['floor']:.2f} verify={median['verify']:.1f}s "
        f"floor={median['floor']:.1f}s "
        f"cpu_ratio={cpu_median['verify'] / cpu_median['floor']:.2f} "
        f"eager_ratio={median['verify'] / median['eager']:.2f} eager={median['eager']:.1f}s "
        f"rss_ratio={rss['verify'] / rss['floor']:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
