"""Train the old model a few steps and save its weights.

Usage: python train_old.py OUT.weights.h5
"""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from old_model import build_model  # noqa: E402

keras.utils.set_random_seed(0)
model = build_model()
model.compile(optimizer="adam", loss="mse")
rng = np.random.default_rng(0)
model.fit(rng.normal(size=(64, 8)), rng.normal(size=(64, 16)), epochs=3, verbose=0)
model.save_weights(sys.argv[1])
print(f"trained; weights: {sys.argv[1]}")
