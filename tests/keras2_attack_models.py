"""Models that broke graphdiff's tf.keras 2 reading, each written once for both Keras versions.

Each source defines `build(keras)`, which runs unchanged under tf.keras 2 (`tf_keras`, in
keras2_writer.py's process) and under Keras 3 (the `.py` graphdiff is given: `keras3_body`),
so that "the same architecture" is the same code. A source that differs on purpose between
the file and NEW is its own entry (`order_b` is `order_a` with its layers made in another
order).
"""

from __future__ import annotations

import textwrap

SOURCES = {
    # The same network; only the order in which the two hidden Dense layers are made differs,
    # so their automatic names (`dense`, `dense_1`) are swapped between the two.
    "order_a": """
        def build(keras):
            layers = keras.layers
            inputs = keras.Input((16,))
            relu = layers.Dense(16, activation="relu")
            tanh = layers.Dense(16, activation="tanh")
            return keras.Model(inputs, layers.Dense(3)(tanh(relu(inputs))))
        """,
    "order_b": """
        def build(keras):
            layers = keras.layers
            inputs = keras.Input((16,))
            tanh = layers.Dense(16, activation="tanh")
            relu = layers.Dense(16, activation="relu")
            return keras.Model(inputs, layers.Dense(3)(tanh(relu(inputs))))
        """,
    # Two named layers of one shape in the other order: not the same architecture.
    "named_ab": """
        def build(keras):
            layers = keras.layers
            inputs = keras.Input((16,))
            x = layers.Dense(16, activation="relu", name="a")(inputs)
            x = layers.Dense(16, activation="tanh", name="b")(x)
            return keras.Model(inputs, layers.Dense(3, name="c")(x))
        """,
    "named_ba": """
        def build(keras):
            layers = keras.layers
            inputs = keras.Input((16,))
            x = layers.Dense(16, activation="tanh", name="b")(inputs)
            x = layers.Dense(16, activation="relu", name="a")(x)
            return keras.Model(inputs, layers.Dense(3, name="c")(x))
        """,
    # Whole-model files Keras 3 could not rebuild from their config (each line says why).
    "text": """
        def build(keras):
            layers = keras.layers
            tokens = keras.Input((7,), dtype="int32")
            x = layers.Embedding(10, 8)(tokens)
            x = layers.LSTM(6, return_sequences=True)(x)  # time_major: false
            x = layers.Bidirectional(layers.GRU(5))(x)  # ... inside a wrapper's layer
            return keras.Model(tokens, layers.Dense(3)(x))
        """,
    "transformer": """
        def build(keras):
            layers = keras.layers
            inputs = keras.Input((5, 8))
            # query_shape in its config, value= by keyword in its call
            attended = layers.MultiHeadAttention(num_heads=2, key_dim=4)(inputs, inputs)
            x = layers.LayerNormalization()(layers.Add()([inputs, attended]))
            x = layers.GlobalAveragePooling1D()(x)
            return keras.Model(inputs, layers.Dense(3)(x))
        """,
    "augmented": """
        def build(keras):
            layers = keras.layers
            inputs = keras.Input((6, 4))
            x = layers.GaussianNoise(0.1)(inputs)
            x = layers.TimeDistributed(layers.Dense(4))(x)
            x = layers.Attention(use_scale=True)([x, x])  # score_mode: "dot", a text
            images = layers.Reshape((6, 4, 1))(x)
            images = layers.RandomFlip("horizontal")(images)  # rng_type
            x = layers.Flatten()(layers.Conv2D(2, 3)(images))
            return keras.Model(inputs, layers.Dense(2)(x))
        """,
    "frozen_base": """
        def build(keras):
            layers = keras.layers
            image = keras.Input((6, 6, 3))
            features = layers.BatchNormalization()(layers.Conv2D(4, 3)(image))  # axis: [3]
            base = keras.Model(image, layers.ReLU()(features), name="base")
            base.trainable = False
            # a nested model's single output, listed: [["re_lu", 0, 0]]
            return keras.Sequential(
                [keras.Input((6, 6, 3)), base, layers.GlobalAveragePooling2D(), layers.Dense(2)]
            )
        """,
    # Operators on tensors: layers in tf.keras 2's layer list (TFOpLambda), not in Keras 3's,
    # so a checkpoint's layer-N positions are not the Keras 3 model's.
    "tensor_ops": """
        def build(keras):
            layers = keras.layers
            inputs = keras.Input((6,))
            x = layers.Dense(8, activation="relu")(inputs)
            x = x * 0.5 + 1.0
            x = layers.Dense(8, activation="tanh")(x)
            return keras.Model(inputs, layers.Dense(3)(x - 0.25))
        """,
    # A nested model whose layers' names hold a `/` (DenseNet's `conv1/conv`), which Keras 3
    # refuses: its Keras 3 twin names them with `_`.
    "slash_names": """
        def build(keras):
            layers = keras.layers
            slash = "/" if keras.__version__.startswith("2.") else "_"
            image = keras.Input((6, 6, 3))
            x = layers.Conv2D(4, 3, name=f"conv1{slash}conv")(image)
            x = layers.BatchNormalization(name=f"conv1{slash}bn")(x)
            x = layers.Conv2D(4, 1, name=f"conv2{slash}conv")(x)
            base = keras.Model(image, x, name="base")
            inputs = keras.Input((6, 6, 3))
            x = layers.GlobalAveragePooling2D()(base(inputs))
            return keras.Model(inputs, layers.Dense(2)(x))
        """,
    # A subclassed model: no config, its checkpoint names weights by attribute (`hidden/kernel`;
    # Keras 3 keeps Dense's kernel as `_kernel`). A weight of the model itself (`scale`, as a
    # learned temperature is) is kept apart in a .h5: `top_level_model_weights`. No whole-model
    # .h5 (tf.keras 2 cannot).
    "subclassed": """
        def build(keras):
            import numpy as np

            layers = keras.layers

            class Net(keras.Model):
                def __init__(self):
                    super().__init__()
                    self.hidden = layers.Dense(8, activation="relu")
                    self.norm = layers.BatchNormalization()
                    self.head = layers.Dense(3)
                    self.scale = self.add_weight(name="scale", shape=(3,), initializer="ones")

                def call(self, x, training=False):
                    return self.head(self.norm(self.hidden(x), training=training)) * self.scale

            model = Net()
            model(np.zeros((1, 6), "float32"))
            return model

        def input_signature():
            import tensorflow as tf

            return [tf.TensorSpec((None, 6), tf.float32)]
        """,
}


def tf_keras_builder(name: str):
    """SOURCES[name]'s `build`, to be called with tf.keras 2 (keras2_writer.py)."""
    namespace: dict = {}
    exec(textwrap.dedent(SOURCES[name]), namespace)
    return namespace["build"]


def keras3_body(name: str) -> str:
    """The body of a Keras 3 model file (keras_models.write_model) building SOURCES[name]."""
    return textwrap.dedent(SOURCES[name]) + "\n\ndef build_model():\n    return build(keras)\n"
