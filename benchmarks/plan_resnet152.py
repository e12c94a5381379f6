"""Benchmark: `graphdiff plan` on resnet_v1_152 with batch norm and Adam, against the floor.

The floor is what nobody can avoid: importing TensorFlow, building the new graph from its
.py, and importing the old meta graph with tf.compat.v1.train.import_meta_graph. Issue 3 asks
that planning take at most 1.25x that. Both are timed as whole fresh processes, so each pays
the TensorFlow import:

    baseline   python -c '<import TF; build new_graph.py; import_meta_graph(old .meta)>'
    graphdiff  python -m graphdiff plan old.meta new_graph.py -o plan.json

each run --repeat times (interleaved), median taken. One more graphdiff run under cProfile
(not timed) shows which stages dominate.

The old graph is tf_slim's resnet_v1_152 (64x64 input, 10 classes) with a small batch norm of
our own (slim's needs tf_keras): get_variable for beta/gamma/moving_mean/moving_variance,
tf.nn.batch_normalization, moving-average updates in UPDATE_OPS, trained with Adam. The
updates are attached as TensorFlow documents it, `with tf.control_dependencies(update_ops):
optimizer.minimize(loss)`, which gives every gradient op that reads the forward graph a
control input per update op (about 1.5M edges); `--update-deps group` groups them with the
train op instead (about 45k edges). The new graph is the same net moved under `model/`, so
that the structural matcher does the work. The old checkpoint (about 0.7 GB with the Adam
slots) is written once, before timing, in a temporary directory.

    python benchmarks/plan_resnet152.py [--repeat 3] [--update-deps minimize|group] [--keep DIR]

Prints the op and edge counts of both graphs, the runs, the profile, and last one line:
`RESULT ratio=1.07 graphdiff=9.8s baseline=9.1s`. Exits 0 whatever the ratio (this is a
benchmark, not a test); 1 if a run fails.
"""

from __future__ import annotations

import argparse
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUDGET = 1.25

NET = '''"""resnet_v1_152 from tf_slim with a small batch norm, trained with Adam."""

import contextlib

import tensorflow as tf
import tf_slim as slim
from tf_slim.nets import resnet_v1

v1 = tf.compat.v1
UPDATE_DEPS = "{update_deps}"


def batch_norm(x, decay=0.997, epsilon=1e-5, scope=None):
    with v1.variable_scope(scope, "BatchNorm", [x]):
        channels = x.shape[-1]
        beta = v1.get_variable("beta", [channels], initializer=v1.zeros_initializer())
        gamma = v1.get_variable("gamma", [channels], initializer=v1.ones_initializer())
        moving = dict(
            trainable=False,
            collections=[v1.GraphKeys.GLOBAL_VARIABLES, v1.GraphKeys.MOVING_AVERAGE_VARIABLES],
        )
        zeros, ones = v1.zeros_initializer(), v1.ones_initializer()
        mean = v1.get_variable("moving_mean", [channels], initializer=zeros, **moving)
        var = v1.get_variable("moving_variance", [channels], initializer=ones, **moving)
        batch_mean, batch_var = tf.nn.moments(x, [0, 1, 2])
        for average, value in ((mean, batch_mean), (var, batch_var)):
            update = v1.assign_sub(average, (average - value) * (1.0 - decay))
            v1.add_to_collection(v1.GraphKeys.UPDATE_OPS, update)
        return tf.nn.batch_normalization(x, batch_mean, batch_var, beta, gamma, epsilon)


def build(scope=None):
    v1.disable_v2_behavior()
    images = v1.placeholder(tf.float32, [2, 64, 64, 3], name="images")
    with v1.variable_scope(scope) if scope else contextlib.nullcontext():
        with slim.arg_scope([slim.conv2d], normalizer_fn=batch_norm):
            logits, _ = resnet_v1.resnet_v1_152(images, 10)
    loss = tf.reduce_mean(tf.square(logits))
    step = v1.train.get_or_create_global_step()
    optimizer = v1.train.AdamOptimizer(1e-3)
    updates = v1.get_collection(v1.GraphKeys.UPDATE_OPS)
    if UPDATE_DEPS == "minimize":
        with tf.control_dependencies(updates):
            optimizer.minimize(loss, global_step=step, name="train")
    else:
        tf.group(optimizer.minimize(loss, global_step=step), *updates, name="train")
'''

GRAPH = """import bench_net


def build_graph():
    bench_net.build({scope!r})
"""

# Setup, in its own process: build and save the old graph, and count both graphs.
SETUP = """
import runpy, sys
import tensorflow as tf
v1 = tf.compat.v1
old_graph, new_graph, prefix = sys.argv[1:4]
sys.path.insert(0, str(__import__("pathlib").Path(old_graph).parent))

def counts(graph):
    nodes = graph.as_graph_def().node
    return len(nodes), sum(len(n.input) for n in nodes)

new = tf.Graph()
with new.as_default():
    runpy.run_path(new_graph)["build_graph"]()
print("new graph: %d ops, %d edges" % counts(new), flush=True)
old = tf.Graph()
with old.as_default():
    runpy.run_path(old_graph)["build_graph"]()
    variables = v1.global_variables()
    saver = v1.train.Saver()
    with v1.Session() as session:
        session.run(v1.global_variables_initializer())
        saver.save(session, prefix)
print("old graph: %d ops, %d edges, %d variables" % (*counts(old), len(variables)))
"""

# The floor: what graphdiff cannot avoid doing, done the plain way.
BASELINE = """
import runpy, sys
from pathlib import Path
import tensorflow as tf
new_graph, old_meta = sys.argv[1:3]
tf.compat.v1.disable_eager_execution()
sys.path.insert(0, str(Path(new_graph).resolve().parent))
with tf.Graph().as_default():
    runpy.run_path(new_graph, run_name="__baseline__")["build_graph"]()
with tf.Graph().as_default():
    tf.compat.v1.train.import_meta_graph(old_meta, clear_devices=True)
"""


def environment() -> dict[str, str]:
    """The same quiet TensorFlow for every process, and this checkout on the import path."""
    env = dict(os.environ)
    env.update(TF_CPP_MIN_LOG_LEVEL="3", TF_ENABLE_ONEDNN_OPTS="0", PYTHONDONTWRITEBYTECODE="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def run(command: list[str], cwd: Path) -> float:
    """Run a fresh process to completion; return its wall time in seconds."""
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=environment(), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"failed ({result.returncode}): {' '.join(command)}")
    return seconds


def setup(work: Path, update_deps: str) -> tuple[Path, Path]:
    (work / "bench_net.py").write_text(NET.format(update_deps=update_deps))
    old_graph, new_graph = work / "old_graph.py", work / "new_graph.py"
    old_graph.write_text(GRAPH.format(scope=None))
    new_graph.write_text(GRAPH.format(scope="model"))
    prefix = work / "old" / "model.ckpt"
    prefix.parent.mkdir(exist_ok=True)
    print(f"setup in {work}: building both graphs, saving the old checkpoint ...", flush=True)
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", SETUP, str(old_graph), str(new_graph), str(prefix)],
        cwd=work,
        env=environment(),
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        raise SystemExit("setup failed")
    print(result.stdout.strip())
    print(f"setup took {time.perf_counter() - start:.1f}s")
    return Path(f"{prefix}.meta"), new_graph


def profile(work: Path, graphdiff: list[str], top: int) -> None:
    """One graphdiff run under cProfile: graphdiff's own functions, then the hottest overall."""
    out = work / "plan.prof"
    run([sys.executable, "-m", "cProfile", "-o", str(out), *graphdiff[1:]], work)
    stats = pstats.Stats(str(out))
    rows = [
        (value[3], value[2], key)
        for key, value in stats.stats.items()  # value: (cc, nc, tottime, cumtime, callers)
    ]
    total = max(cumulative for cumulative, _, _ in rows)
    print(f"\nprofile of one graphdiff run (cProfile, {total:.1f}s with profiling overhead)")
    print("graphdiff functions by cumulative time:")
    own = [r for r in rows if f"{os.sep}graphdiff{os.sep}" in r[2][0]]
    for cumulative, own_time, (file, line, name) in sorted(own, reverse=True)[:top]:
        where = f"{Path(file).parent.name}/{Path(file).name}:{line}"
        print(f"  {cumulative:7.2f}s cum {own_time:6.2f}s own  {name} ({where})")
    print("hottest functions anywhere by own time:")
    for cumulative, own_time, (file, line, name) in sorted(rows, key=lambda r: -r[1])[:top]:
        where = f"{Path(file).name}:{line}" if line else file
        print(f"  {own_time:7.2f}s own {cumulative:6.2f}s cum  {name} ({where})")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--update-deps", choices=("minimize", "group"), default="minimize")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--top", type=int, default=15, help="rows of each profile table")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="graphdiff-bench-") as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        old_meta, new_graph = setup(work, args.update_deps)
        baseline = [sys.executable, "-c", BASELINE, str(new_graph), str(old_meta)]
        graphdiff = [sys.executable, "-m", "graphdiff", "plan", str(old_meta), str(new_graph)]
        graphdiff += ["-o", str(work / "plan.json")]
        times: dict[str, list[float]] = {"baseline": [], "graphdiff": []}
        for index in range(args.repeat):
            for label, command in (("baseline", baseline), ("graphdiff", graphdiff)):
                times[label].append(run(command, work))
                print(f"run {index + 1}: {label:9s} {times[label][-1]:6.2f}s", flush=True)
        if not args.no_profile:
            profile(work, graphdiff, args.top)
    base, plan = (statistics.median(times[k]) for k in ("baseline", "graphdiff"))
    ratio = plan / base
    verdict = "within" if ratio <= BUDGET else "OVER"
    print(f"\nmedian of {args.repeat}: baseline {base:.2f}s, graphdiff {plan:.2f}s")
    print(f"ratio {ratio:.2f} ({verdict} the {BUDGET}x budget of issue 3)")
    print(f"RESULT ratio={ratio:.2f} graphdiff={plan:.1f}s baseline={base:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
