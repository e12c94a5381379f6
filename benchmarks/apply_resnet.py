"""Benchmark: `graphdiff apply` of a resnet_v1_50 checkpoint into a resnet_v1_101 graph.

The old graph is tf_slim's resnet_v1_50 (224x224 input, 1000 classes, is_training=False) with
a small inference batch norm of our own on every conv (slim's needs tf_keras): beta, gamma,
moving mean and variance through get_variable, so 267 variables; its checkpoint is initialized,
not trained, and saved with VariableV2 (disable_v2_behavior). The new graph is resnet_v1_101
built the same way: 522 variables, the 267 of resnet_v1_50 restored (under the new scope,
by the structural matcher) and 255 new (block3's units 7 to 23). Issue 6 asks that apply be
faster than init_from_checkpoint + save here, with no more peak memory.

The harness (benchmarks/_apply_harness.py) plans once, then times, interleaved, --repeat
fresh processes each: copying the files, `graphdiff apply`, init_from_checkpoint + save,
Saver(var_list).restore + save, and importing TensorFlow + building the new graph.

    python3 benchmarks/apply_resnet.py [--repeat 3] [--old 50] [--new 101] [--no-batch-norm]
        [--quick] [--workdir DIR] [--keep] [--json FILE] [--no-check]

--quick: one run each, the nets unchanged (about a minute on 2 cores).
Prints the runs, a table, the ratios and last one line `RESULT case=resnet ...`. Exits 0
whatever the figures (a benchmark, not a test); 1 if a process fails or the outputs differ.
"""

from __future__ import annotations

import sys

import _apply_harness as harness

NET = '''"""tf_slim resnet_v1 with an inference batch norm of our own (slim's needs tf_keras)."""

import tensorflow as tf
import tf_slim as slim
from tf_slim.nets import resnet_v1

v1 = tf.compat.v1
BATCH_NORM = {batch_norm}


def batch_norm(x, epsilon=1e-5, scope=None):
    with v1.variable_scope(scope, "BatchNorm", [x]):
        channels = x.shape[-1]
        zeros, ones = v1.zeros_initializer(), v1.ones_initializer()
        beta = v1.get_variable("beta", [channels], initializer=zeros)
        gamma = v1.get_variable("gamma", [channels], initializer=ones)
        moving = dict(
            trainable=False,
            collections=[v1.GraphKeys.GLOBAL_VARIABLES, v1.GraphKeys.MOVING_AVERAGE_VARIABLES],
        )
        mean = v1.get_variable("moving_mean", [channels], initializer=zeros, **moving)
        variance = v1.get_variable("moving_variance", [channels], initializer=ones, **moving)
        return tf.nn.batch_normalization(x, mean, variance, beta, gamma, epsilon)


def build(depth):
    v1.disable_v2_behavior()
    images = v1.placeholder(tf.float32, [None, 224, 224, 3], name="images")
    net = getattr(resnet_v1, f"resnet_v1_{{depth}}")
    if BATCH_NORM:
        with slim.arg_scope([slim.conv2d], normalizer_fn=batch_norm):
            net(images, num_classes=1000, is_training=False)
    else:
        net(images, num_classes=1000, is_training=False)
'''

GRAPH = """import bench_resnet


def build_graph():
    bench_resnet.build({depth})
"""

DEPTHS = ("50", "101", "152", "200")


def case(args) -> harness.Case:
    files = {
        "bench_resnet.py": NET.format(batch_norm=not args.no_batch_norm),
        "old_graph.py": GRAPH.format(depth=args.old),
        "new_graph.py": GRAPH.format(depth=args.new),
    }
    usual = (args.old, args.new, args.no_batch_norm) == ("50", "101", False)
    expect = (267, 255) if usual else None
    return harness.Case(
        name=f"resnet_v1_{args.old} -> resnet_v1_{args.new}",
        files=files,
        expect=expect,
        goals=("faster_than_init",),
        parameters={"old": args.old, "new": args.new, "batch_norm": not args.no_batch_norm},
    )


def main(argv=None) -> int:
    parser = harness.parser(__doc__)
    parser.add_argument("--old", choices=DEPTHS, default="50", help="resnet_v1 depth saved")
    parser.add_argument("--new", choices=DEPTHS, default="101", help="resnet_v1 depth applied to")
    parser.add_argument(
        "--no-batch-norm", action="store_true", help="plain convs with biases (108 -> 210 vars)"
    )
    args = parser.parse_args(argv)
    return harness.run("resnet", case(args), args)


if __name__ == "__main__":
    sys.exit(main())
