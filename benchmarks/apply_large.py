"""Benchmark: `graphdiff apply` of a ~2 GiB checkpoint: N x [4096, 4096] float32, plus 4 new.

The old graph is a chain of N matmuls by [size, size] float32 variables `layer_i/w` (default
32 x [4096, 4096]: 2 GiB), initialized and saved with VariableV2 (disable_v2_behavior); the new
graph is the same chain followed by --new more (`extra_j/w`, Glorot-uniform, as get_variable
makes them). Every old variable is restored by name. Issue 6 asks that here apply's wall time
minus TensorFlow's import and the new graph's build be at most 2x the copy of the files, and
its peak RSS at most the largest tensor + 500 MB above that of the import and build.

The harness (benchmarks/_apply_harness.py) plans once, then times, interleaved, --repeat
fresh processes each: copying the files, `graphdiff apply`, init_from_checkpoint + save,
Saver(var_list).restore + save, and importing TensorFlow + building the new graph. The disk
needs about 6x the checkpoint free (source, four outputs of the last round).

    python3 benchmarks/apply_large.py [--repeat 3] [--count 32 | --gib 2] [--size 4096]
        [--new 4] [--quick] [--workdir DIR] [--keep] [--json FILE] [--no-check]

--quick: 4 x [4096, 4096] (256 MiB) + 4 new, one run each (about a minute on 2 cores).
Prints the runs, a table, the ratios and last one line `RESULT case=large ...`. Exits 0
whatever the figures (a benchmark, not a test); 1 if a process fails or the outputs differ.
"""

from __future__ import annotations

import sys

import _apply_harness as harness

NET = '''"""A chain of matmuls by [size, size] float32 variables: `count` restored, `new` added."""

import tensorflow as tf

v1 = tf.compat.v1


def build(count, new, size):
    v1.disable_v2_behavior()
    net = v1.placeholder(tf.float32, [None, size], name="x")
    names = [f"layer_{i}" for i in range(count)] + [f"extra_{j}" for j in range(new)]
    for name in names:
        with v1.variable_scope(name):
            net = tf.matmul(net, v1.get_variable("w", [size, size], dtype=tf.float32))
    tf.identity(net, name="y")
'''

GRAPH = """import bench_large


def build_graph():
    bench_large.build({count}, {new}, {size})
"""


def case(args) -> harness.Case:
    count = args.count
    if args.gib is not None:
        count = max(1, round(args.gib * (1 << 30) / (args.size * args.size * 4)))
    elif count is None:
        count = 4 if args.quick else 32
    files = {
        "bench_large.py": NET,
        "old_graph.py": GRAPH.format(count=count, new=0, size=args.size),
        "new_graph.py": GRAPH.format(count=count, new=args.new, size=args.size),
    }
    gib = count * args.size * args.size * 4 / (1 << 30)
    return harness.Case(
        name=f"{count} x [{args.size}, {args.size}] float32 ({gib:.2f} GiB) + {args.new} new",
        files=files,
        expect=(count, args.new),
        goals=("near_copy",),
        parameters={"count": count, "size": args.size, "new": args.new},
    )


def main(argv=None) -> int:
    parser = harness.parser(__doc__)
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--count", type=int, help="variables in the checkpoint (32; --quick: 4)")
    sizes.add_argument("--gib", type=float, help="checkpoint size instead of --count")
    parser.add_argument("--size", type=int, default=4096, help="each variable is [SIZE, SIZE]")
    parser.add_argument("--new", type=int, default=4, help="variables the new graph adds")
    args = parser.parse_args(argv)
    return harness.run("large", case(args), args)


if __name__ == "__main__":
    sys.exit(main())
