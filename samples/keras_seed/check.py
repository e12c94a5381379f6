"""Load the written weights into the Keras model and compare Output1 with the TF1 graph's.

Usage: python check.py OLD_PREFIX NEW_WEIGHTS    (exit 1 if they differ by more than 1e-5)
"""

import os
import sys
import warnings

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "seed"))

import model as tf1_model  # noqa: E402  the seed's TF1 layers
import tensorflow as tf  # noqa: E402
from new_model import build_model  # noqa: E402

v1 = tf.compat.v1


def tf1_output(prefix: str, x: np.ndarray) -> np.ndarray:
    graph = tf.Graph()
    with graph.as_default():
        inputs = tf1_model.inputs()
        output = tf1_model.layer_b(tf1_model.layer_a(inputs))
        with v1.Session() as session:
            v1.train.Saver().restore(session, prefix)
            return session.run(output, {inputs: x})


def main(prefix: str, weights: str) -> int:
    x = np.random.default_rng(1).normal(size=(8, tf1_model.FEATURES)).astype(np.float32)
    old = tf1_output(prefix, x)
    model = build_model()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.load_weights(weights)
    new = model(x)[0].numpy()
    difference = float(np.abs(old - new).max())
    print(f"load_weights: {len(caught)} warning(s); Output1 differs by at most {difference:.2e}")
    return 0 if difference < 1e-5 and not caught else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
