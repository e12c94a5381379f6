"""What each way of loading puts into the new model's layers.

Usage: python compare.py OLD.weights.h5 GRAPHDIFF.weights.h5
For each layer of the new model: which old layer's weights it holds after Keras's own
`load_weights(..., skip_mismatch=True)` and after loading graphdiff's file.
"""

import os
import sys
import warnings

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
from new_model import build_model as build_new  # noqa: E402
from old_model import build_model as build_old  # noqa: E402


def holder(layer, old) -> str:
    for old_layer in old.layers:
        if len(old_layer.weights) == len(layer.weights) > 0 and all(
            a.shape == b.shape and np.array_equal(a.numpy(), b.numpy())
            for a, b in zip(layer.weights, old_layer.weights, strict=True)
        ):
            return f"old {old_layer.name}"
    return "initialized"


def main(old_weights: str, ours: str) -> None:
    old = build_old()
    old.load_weights(old_weights)
    keras_way = build_new()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        keras_way.load_weights(old_weights, skip_mismatch=True)
    graphdiff_way = build_new()
    graphdiff_way.load_weights(ours)
    print(f"{'new layer':12} {'load_weights':22} graphdiff")
    for a, b in zip(keras_way.layers, graphdiff_way.layers, strict=True):
        if a.weights:
            print(f"{a.name:12} {holder(a, old):22} {holder(b, old)}")
    print(f"(load_weights gave {len(caught)} warning(s))")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
