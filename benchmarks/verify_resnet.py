"""Benchmark: `graphdiff verify` on a tf_slim resnet, against the floor it cannot avoid.

The floor is restoring both checkpoints and one forward pass of each graph: importing
TensorFlow, import_meta_graph of the old .meta, Saver.restore of the old checkpoint and one run
fetching the old tensors verify compares; then building the new graph from its .py, a
Saver.restore of the applied checkpoint and one run fetching the new tensors, on the same
inputs (batch 2), one graph after the other as verify does. Issue 7 asks that verify cost
little more than that, in time and in memory. Both are timed as whole fresh processes,
interleaved, --repeat times, median taken; peak memory is each process's max RSS (wait4).

The old graph is tf_slim's resnet_v1_50 (224x224 input, 10 classes) with a small batch norm
of our own (slim's needs tf_keras): moving averages read at inference, updated through
UPDATE_OPS, trained with Adam. The new graph is the same net moved under `model/` with a new
20-class head, so that verify compares the features before the head. Setup (not timed) saves
the old checkpoint, plans and applies, in a temporary directory.

    python benchmarks/verify_resnet.py [--repeat 3] [--keep DIR]

Prints the runs and last one line: `RESULT ratio=1.10 verify=9.1s floor=8.3s rss_ratio=1.02`.
Exits 0 whatever the ratio (a benchmark, not a test); 1 if a run fails or verify does not pass.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

NET = '''"""resnet_v1_50 from tf_slim with a small batch norm, trained with Adam."""

import contextlib

import tensorflow as tf
import tf_slim as slim
from tf_slim.nets import resnet_v1

v1 = tf.compat.v1


def batch_norm(x, decay=0.997, epsilon=1e-5, scope=None):
    with v1.variable_scope(scope, "BatchNorm", [x]):
        channels = x.shape[-1]
        beta = v1.get_variable("beta", [channels], initializer=v1.zeros_initializer())
        gamma = v1.get_variable("gamma", [channels], initializer=v1.ones_initializer())
        moving = dict(trainable=False)
        mean = v1.get_variable(
            "moving_mean", [channels], initializer=v1.zeros_initializer(), **moving
        )
        var = v1.get_variable(
            "moving_variance", [channels], initializer=v1.ones_initializer(), **moving
        )
        batch_mean, batch_var = tf.nn.moments(x, [0, 1, 2])
        for average, value in ((mean, batch_mean), (var, batch_var)):
            update = v1.assign_sub(average, (average - value) * (1.0 - decay))
            v1.add_to_collection(v1.GraphKeys.UPDATE_OPS, update)
        y, _, _ = v1.nn.fused_batch_norm(
            x, gamma, beta, mean=mean, variance=var, epsilon=epsilon, is_training=False
        )
        return y


def build(scope=None, classes=10, train=True):
    v1.disable_v2_behavior()
    images = v1.placeholder(tf.float32, [None, 224, 224, 3], name="images")
    with v1.variable_scope(scope) if scope else contextlib.nullcontext():
        with slim.arg_scope([slim.conv2d], normalizer_fn=batch_norm):
            logits, _ = resnet_v1.resnet_v1_50(images, classes)
    if train:
        loss = tf.reduce_mean(tf.square(logits))
        step = v1.train.get_or_create_global_step()
        v1.train.AdamOptimizer(1e-3).minimize(loss, global_step=step, name="train")
'''

GRAPH = """import bench_net


def build_graph():
    bench_net.build({scope!r}, {classes}, {train})
"""

SAVE_OLD = """
import runpy, sys
import tensorflow as tf
v1 = tf.compat.v1
old_graph, prefix = sys.argv[1:3]
sys.path.insert(0, str(__import__("pathlib").Path(old_graph).parent))
with tf.Graph().as_default():
    runpy.run_path(old_graph)["build_graph"]()
    with v1.Session() as session:
        session.run(v1.global_variables_initializer())
        v1.train.Saver().save(session, prefix)
"""

# The floor: both checkpoints restored and one forward pass of each graph, the plain way.
FLOOR = """
import json, runpy, sys, zlib
from pathlib import Path
import numpy as np
import tensorflow as tf
v1 = tf.compat.v1
old_meta, old_prefix, new_graph, new_prefix, fetches = sys.argv[1:6]
fetches = json.loads(fetches)
v1.disable_eager_execution()
images = np.random.default_rng(0).random((2, 224, 224, 3)).astype(np.float32)
with tf.Graph().as_default() as graph:
    saver = v1.train.import_meta_graph(old_meta, clear_devices=True)
    with v1.Session() as session:
        saver.restore(session, old_prefix)
        session.run([f["old"] for f in fetches], {"images:0": images})
sys.path.insert(0, str(Path(new_graph).resolve().parent))
with tf.Graph().as_default() as graph:
    runpy.run_path(new_graph, run_name="__floor__")["build_graph"]()
    saver = v1.train.Saver()
    with v1.Session() as session:
        saver.restore(session, new_prefix)
        session.run([f["new"] for f in fetches], {"images:0": images})
"""


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update(TF_CPP_MIN_LOG_LEVEL="3", TF_ENABLE_ONEDNN_OPTS="0", PYTHONDONTWRITEBYTECODE="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def run(command: list[str], cwd: Path) -> tuple[float, float, str]:
    """Run a fresh process; return (wall seconds, peak RSS in MiB, standard output)."""
    seconds, _, rss, text = measure(command, cwd)
    return seconds, rss, text


def measure(command: list[str], cwd: Path) -> tuple[float, float, float, str]:
    """Run a fresh process; return (wall seconds, CPU seconds (user + system, the child's own:
    what a busy machine does not inflate much), peak RSS in MiB, standard output)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=environment(), stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)  # the child's own rusage: its peak RSS
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text, errors = out.read().decode(), err.read().decode()
    if process.returncode != 0:
        sys.stderr.write(text + errors)
        raise SystemExit(f"failed ({process.returncode}): {' '.join(command)}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, text


def setup(work: Path) -> Path:
    (work / "bench_net.py").write_text(NET)
    old_graph, new_graph = work / "old_graph.py", work / "new_graph.py"
    old_graph.write_text(GRAPH.format(scope=None, classes=10, train=True))
    new_graph.write_text(GRAPH.format(scope="model", classes=20, train=False))
    prefix = work / "old" / "model.ckpt"
    prefix.parent.mkdir(exist_ok=True)
    print(f"setup in {work}: saving the old checkpoint, planning, applying ...", flush=True)
    start = time.perf_counter()
    graphdiff = [sys.executable, "-m", "graphdiff"]
    for command in (
        [sys.executable, "-c", SAVE_OLD, str(old_graph), str(prefix)],
        [*graphdiff, "plan", f"{prefix}.meta", str(new_graph), "-o", str(work / "plan.json")],
        [*graphdiff, "apply", str(work / "plan.json"), "--force", "--quiet"],
    ):
        run(command, work)
    print(f"setup took {time.perf_counter() - start:.1f}s")
    return work / "plan.json"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="graphdiff-verify-bench-") as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        plan_path = setup(work)
        verify = [sys.executable, "-m", "graphdiff", "verify", str(plan_path), "--format", "json"]
        report = json.loads(run(verify, work)[2])
        if report["verdict"] != "identical":
            raise SystemExit(f"verify did not pass: {report['verdict']}")
        fetches = [{"old": t["old"], "new": t["new"]} for t in report["tensors"]]
        print("compared:", ", ".join(f"{f['new']} ~ {f['old']}" for f in fetches))
        plan = json.loads(plan_path.read_text())
        old_prefix = plan["provenance"]["checkpoint_prefix"]
        floor = [sys.executable, "-c", FLOOR, f"{old_prefix}.meta", old_prefix]
        floor += [str(work / "new_graph.py"), plan["output_prefix"], json.dumps(fetches)]
        times: dict[str, list[float]] = {"floor": [], "verify": []}
        memory: dict[str, list[float]] = {"floor": [], "verify": []}
        for index in range(args.repeat):
            for label, command in (("floor", floor), ("verify", verify)):
                seconds, rss, _ = run(command, work)
                times[label].append(seconds)
                memory[label].append(rss)
                print(f"run {index + 1}: {label:6s} {seconds:6.2f}s  {rss:7.0f} MiB", flush=True)
    base, cost = (statistics.median(times[k]) for k in ("floor", "verify"))
    base_rss, cost_rss = (statistics.median(memory[k]) for k in ("floor", "verify"))
    print(f"\nmedian of {args.repeat}: floor {base:.2f}s {base_rss:.0f} MiB, ", end="")
    print(f"verify {cost:.2f}s {cost_rss:.0f} MiB")
    print(
        f"RESULT ratio={cost / base:.2f} verify={cost:.1f}s floor={base:.1f}s "
        f"rss_ratio={cost_rss / base_rss:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
