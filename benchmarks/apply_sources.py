"""Benchmark: `graphdiff apply` of a plan with two named sources against each part alone.

Issue 19: applying a two-source plan must cost no more than applying each source's part alone,
added up. The model is a detector in miniature at checkpoint scale: a backbone of --layers
matmuls by [size, size] float32 (`backbone/layer_i/w`) and --heads heads of the same size
(`head_j/w`), plus one new head. Source `cls` (a classification run) holds the backbone under
`resnet/` and a classifier; source `det` (a detection run) holds a backbone of its own under
`backbone/` and the heads. Three plans, made once:

    two     graphdiff plan cls=... det=... new_graph.py   (backbone from cls, heads from det)
    cls     graphdiff plan cls.meta new_graph.py           (cls's part alone: the backbone)
    det     graphdiff plan det.meta new_graph.py --exclude '^backbone/'  (det's part alone)

then fresh processes, interleaved, --repeat times each (medians): importing TensorFlow and
building the new graph (`build`, what every way pays), `graphdiff apply` of each plan, and
TensorFlow's own way for two sources: init_from_checkpoint once per source, the initializers,
Saver().save (`init`). Every output is checked: each restored tensor equal to its source's.

    python3 benchmarks/apply_sources.py [--repeat 3] [--layers 8] [--heads 4] [--size 2048]
        [--workdir DIR] [--keep] [--json FILE]

Prints the runs, the medians and the ratios, last one line `RESULT case=sources ...`. Exits 0
whatever the figures (a benchmark, not a test); 1 if a process fails or an output differs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import _apply_harness as harness
from _apply_children import BUILD, PRELUDE

NET = '''"""The detector in miniature: a backbone of matmuls, heads on it."""

import tensorflow as tf

v1 = tf.compat.v1


def chain(net, scope, count, size):
    for i in range(count):
        with v1.variable_scope(f"{scope}/layer_{i}"):
            net = tf.matmul(net, v1.get_variable("w", [size, size]))
    return net


def heads(net, names, size):
    return [tf.matmul(net, v1.get_variable(f"{name}/w", [size, size])) for name in names]


def classifier(layers, size):
    net = chain(v1.placeholder(tf.float32, [None, size], name="x"), "resnet", layers, size)
    heads(net, ["logits"], size)


def detector(layers, head_count, size, new=False):
    net = chain(v1.placeholder(tf.float32, [None, size], name="x"), "backbone", layers, size)
    names = [f"head_{j}" for j in range(head_count)] + (["mask"] if new else [])
    heads(net, names, size)
'''

GRAPH = """import bench_sources


def build_graph():
    bench_sources.{call}
"""

INIT_PER_SOURCE = (
    PRELUDE
    + """
new_graph, plan_path, out = sys.argv[1:4]
graph = build(new_graph)
plan = json.loads(Path(plan_path).read_text())
prefixes = {s["name"]: s["checkpoint_prefix"] for s in plan["provenance"]["sources"]}
with graph.as_default():
    for name, prefix in prefixes.items():
        restored = [e for e in plan["variables"] if e.get("source_name") == name]
        v1.train.init_from_checkpoint(prefix, {e["source"]: e["name"] for e in restored})
    initialize = v1.global_variables_initializer()
    saver = v1.train.Saver()
    with v1.Session() as session:
        session.run(initialize)
        saver.save(session, out)
"""
)

CHECK = """
import json, sys
import numpy as np
import tensorflow as tf
plan_path, *outputs = sys.argv[1:]
plan = json.loads(open(plan_path).read())
provenance = plan["provenance"]
sources = provenance.get("sources") or [
    {"name": None, "checkpoint_prefix": provenance["checkpoint_prefix"]}
]
readers = {s["name"]: tf.train.load_checkpoint(s["checkpoint_prefix"]) for s in sources}
for out in outputs:
    written = tf.train.load_checkpoint(out)
    for e in plan["variables"]:
        value = written.get_tensor(e["name"])
        assert list(value.shape) == e["shape"], (out, e["name"])
        if e["action"] == "restore":
            expected = readers[e.get("source_name")].get_tensor(e["source"])
            assert value.tobytes() == expected.tobytes(), (out, e["name"])
print("outputs checked:", len(outputs))
"""


def setup(work: Path, args) -> None:
    (work / "bench_sources.py").write_text(NET)
    size, layers, heads = args.size, args.layers, args.heads
    graphs = {
        "cls_graph.py": f"classifier({layers}, {size})",
        "det_graph.py": f"detector({layers}, {heads}, {size})",
        "new_graph.py": f"detector({layers}, {heads}, {size}, new=True)",
    }
    for name, call in graphs.items():
        (work / name).write_text(GRAPH.format(call=call))
    (work / "logs").mkdir()
    setup_script = PRELUDE + SAVE_RANDOM
    for name in ("cls", "det"):
        (work / name).mkdir()
        command = (sys.executable, "-c", setup_script, f"{name}_graph.py", f"{name}/model.ckpt")
        harness.measure(command, work, work / "logs" / f"setup-{name}.log")
    gd = (sys.executable, "-m", "graphdiff", "plan")
    plans = {
        "two": (*gd, "cls=cls/model.ckpt.meta", "det=det/model.ckpt.meta", "new_graph.py"),
        "cls": (*gd, "cls/model.ckpt.meta", "new_graph.py"),
        "det": (*gd, "det/model.ckpt.meta", "new_graph.py", "--exclude", "^backbone/"),
    }
    for key, command in plans.items():
        out = ("-o", f"plan_{key}.json", "--output-prefix", f"out/{key}/model.ckpt")
        planned = harness.measure((*command, *out), work, work / "logs" / f"plan-{key}.log")
        plan = json.loads((work / f"plan_{key}.json").read_text())
        restored = sum(e["action"] == "restore" for e in plan["variables"])
        print(f"  plan {key}: {restored} restored, {planned.wall:.1f}s", flush=True)


# Random values, so that a tensor from the wrong source cannot pass the check.
SAVE_RANDOM = """
import numpy as np
old_graph, prefix = sys.argv[1:3]
graph = build(old_graph)
rng = np.random.default_rng(len(prefix))
with graph.as_default():
    saver = v1.train.Saver()
    with v1.Session() as session:
        for variable in v1.global_variables():
            variable.load(rng.standard_normal(variable.shape.as_list()).astype("float32"), session)
        saver.save(session, prefix)
"""


def contestants(work: Path) -> dict[str, tuple]:
    python = sys.executable
    apply = (python, "-m", "graphdiff", "apply")
    return {
        "build": (python, "-c", BUILD, "new_graph.py"),
        "apply two": (*apply, "plan_two.json", "--quiet", "--force"),
        "apply cls part": (*apply, "plan_cls.json", "--quiet", "--force"),
        "apply det part": (*apply, "plan_det.json", "--quiet", "--force"),
        "init per source": (
            python,
            "-c",
            INIT_PER_SOURCE,
            "new_graph.py",
            "plan_two.json",
            str(work / "out" / "init" / "model.ckpt"),
        ),
    }


def time_all(work: Path, repeat: int) -> dict[str, list]:
    entrants = contestants(work)
    keys = list(entrants)
    runs: dict[str, list] = {key: [] for key in keys}
    outputs = {"apply two": "two", "apply cls part": "cls", "apply det part": "det"}
    for round_ in range(repeat):
        shift = round_ % len(keys)
        for key in keys[shift:] + keys[:shift]:
            harness.fresh(work / "out" / outputs.get(key, key.split()[0]))
            log = work / "logs" / f"{key.replace(' ', '_')}-{round_ + 1}.log"
            run = harness.measure(entrants[key], work, log)
            runs[key].append(run)
            print(
                f"round {round_ + 1}: {key:16s} {run.wall:7.2f}s {run.peak_rss / harness.MIB:7.0f}"
                f" MiB  (load {run.load:.1f})",
                flush=True,
            )
    return runs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--workdir")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="graphdiff-sources-", dir=args.workdir))
    try:
        mib = 4 * args.size * args.size / harness.MIB
        print(
            f"backbone {args.layers} x [{args.size}, {args.size}] from cls, {args.heads} heads "
            f"from det, 1 new ({mib:.0f} MiB a tensor); in {work}",
            flush=True,
        )
        setup(work, args)
        runs = time_all(work, args.repeat)
        out = {key: str(work / "out" / key / "model.ckpt") for key in ("two", "cls", "det", "init")}
        for plan, outputs in (("two", ("two", "init")), ("cls", ("cls",)), ("det", ("det",))):
            harness.measure(
                (sys.executable, "-c", CHECK, f"plan_{plan}.json", *(out[k] for k in outputs)),
                work,
                work / "logs" / f"check-{plan}.log",
            )
        print("outputs checked: every restored tensor is its source's", flush=True)
        report(runs, args)
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def report(runs: dict[str, list], args) -> None:
    wall = {key: statistics.median(r.wall for r in rs) for key, rs in runs.items()}
    rss = {key: statistics.median(r.peak_rss for r in rs) for key, rs in runs.items()}
    print("\nmedians")
    for key in runs:
        print(f"  {key:16s} {wall[key]:7.2f}s {rss[key] / harness.MIB:7.0f} MiB")
    parts = wall["apply cls part"] + wall["apply det part"]
    build = wall["build"]
    figures = {
        "two/(cls+det) wall": wall["apply two"] / parts,
        "(two-build)/(cls+det-2*build) wall": (wall["apply two"] - build) / (parts - 2 * build),
        "two/init wall": wall["apply two"] / wall["init per source"],
        "two/init rss": rss["apply two"] / rss["init per source"],
    }
    print("\nratios (this run)")
    for name, value in figures.items():
        print(f"  {name:45s} {value:.2f}")
    print(
        f"RESULT case=sources two={wall['apply two']:.2f}s parts={parts:.2f}s "
        + " ".join(f"{k.replace(' ', '_')}={v:.2f}" for k, v in figures.items())
    )
    if args.json:
        document = {"medians_wall": wall, "medians_rss": rss, "ratios": figures}
        Path(args.json).write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
