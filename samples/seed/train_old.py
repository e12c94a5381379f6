"""Train the old graph `Input -> A -> B -> Output1` a few real steps and save a checkpoint.

Usage: python train_old.py OUT_PREFIX [STEPS]   (e.g. old/model.ckpt)
Synthetic data: a fixed random linear teacher, so the weights move away from their init.
"""

import os
import sys

import model
import numpy as np
import tensorflow as tf

v1 = tf.compat.v1


def main(prefix: str, steps: int = 20) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
    v1.disable_v2_behavior()  # a TF1-style graph: VariableV2, v1 control flow
    v1.set_random_seed(0)
    x = model.inputs()
    labels = v1.placeholder(tf.int32, [None], name="labels")
    logits = model.layer_b(model.layer_a(x))
    loss = tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    )
    step = model.train_op(loss)
    rng = np.random.default_rng(0)
    teacher = rng.normal(size=(model.FEATURES, model.CLASSES))
    with v1.Session() as session:
        session.run(v1.global_variables_initializer())
        for _ in range(steps):
            batch = rng.normal(size=(32, model.FEATURES)).astype(np.float32)
            _, value = session.run(
                [step, loss], {x: batch, labels: np.argmax(batch @ teacher, axis=1)}
            )
        saved = v1.train.Saver().save(session, prefix)
    print(f"trained {steps} steps (loss {value:.3f}); checkpoint: {saved}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 20)
