"""Benchmark: `graphdiff apply` of a partitioned embedding table, 3 parts -> 2 parts.

The old graph looks ids up in an embedding table made by get_variable with
fixed_size_partitioner(3) (default [2_000_000, 64] float32: 488 MiB, saved as one key in 3
slices), then a dense layer (`dense/kernel`, `dense/bias`); it is initialized and saved with
VariableV2 (disable_v2_behavior). The new graph partitions the same table in 2 parts and adds
a dense head (`head/kernel`, `head/bias`), so that the table is re-sliced (3 stored slices,
2 written), the dense layer carried over and the head initialized. TensorFlow's ways name the
table by its full name: init_from_checkpoint({"embedding": "embedding"}) and
Saver(var_list={"embedding": [its parts]}).

The harness (benchmarks/_apply_harness.py) plans once, then times, interleaved, --repeat
fresh processes each: copying the files, `graphdiff apply`, init_from_checkpoint + save,
Saver(var_list).restore + save, and importing TensorFlow + building the new graph.

    python3 benchmarks/apply_partitioned.py [--repeat 3] [--rows 2000000] [--dim 64]
        [--old-parts 3] [--new-parts 2] [--quick] [--workdir DIR] [--keep] [--json FILE]
        [--no-check]

--quick: a [200_000, 64] table, one run each (about a minute on 2 cores).
Prints the runs, a table, the ratios and last one line `RESULT case=partitioned ...`. Exits 0
whatever the figures (a benchmark, not a test); 1 if a process fails or the outputs differ.
"""

from __future__ import annotations

import sys

import _apply_harness as harness

NET = '''"""Ids -> a partitioned embedding table -> a dense layer (-> a dense head)."""

import tensorflow as tf

v1 = tf.compat.v1


def dense(net, units, scope):
    with v1.variable_scope(scope):
        kernel = v1.get_variable("kernel", [net.shape[-1], units])
        bias = v1.get_variable("bias", [units], initializer=v1.zeros_initializer())
        return tf.nn.relu(tf.matmul(net, kernel) + bias)


def build(rows, dim, parts, head):
    v1.disable_v2_behavior()
    ids = v1.placeholder(tf.int64, [None], name="ids")
    table = v1.get_variable(
        "embedding",
        [rows, dim],
        initializer=v1.random_uniform_initializer(-0.05, 0.05),
        partitioner=v1.fixed_size_partitioner(parts),
    )
    net = dense(v1.nn.embedding_lookup(table, ids, partition_strategy="div"), 128, "dense")
    if head:
        net = dense(net, 10, "head")
    tf.identity(net, name="y")
'''

GRAPH = """import bench_partitioned


def build_graph():
    bench_partitioned.build({rows}, {dim}, {parts}, {head})
"""


def case(args) -> harness.Case:
    rows = args.rows or (200_000 if args.quick else 2_000_000)
    common = dict(rows=rows, dim=args.dim)
    files = {
        "bench_partitioned.py": NET,
        "old_graph.py": GRAPH.format(parts=args.old_parts, head=False, **common),
        "new_graph.py": GRAPH.format(parts=args.new_parts, head=True, **common),
    }
    mib = rows * args.dim * 4 / (1 << 20)
    return harness.Case(
        name=f"embedding [{rows}, {args.dim}] float32 ({mib:.0f} MiB) in "
        f"{args.old_parts} parts -> {args.new_parts} parts, + a dense head",
        files=files,
        expect=(3, 2),
        parameters={
            "rows": rows,
            "dim": args.dim,
            "old_parts": args.old_parts,
            "new_parts": args.new_parts,
        },
    )


def main(argv=None) -> int:
    parser = harness.parser(__doc__)
    parser.add_argument("--rows", type=int, help="rows of the table (2_000_000; --quick: 200_000)")
    parser.add_argument("--dim", type=int, default=64, help="columns of the table")
    parser.add_argument("--old-parts", type=int, default=3, help="parts in the old graph")
    parser.add_argument("--new-parts", type=int, default=2, help="parts in the new graph")
    args = parser.parse_args(argv)
    return harness.run("partitioned", case(args), args)


if __name__ == "__main__":
    sys.exit(main())
