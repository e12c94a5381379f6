"""The Keras matcher corpus: old models, new models, and who is who, by construction.

A case pairs an old model (`OLD`: a Keras model file body, or a TF1 graph with the checkpoint
keys of each tagged layer) with a new model file body, and is planned once per kind of old
file in `kinds`:

- `weights.h5`: `model.save_weights`, planned with --old-model;
- `keras`: `model.save` archive, planned without --old-model (Keras rebuilds the model from
  the archive's config: a Sequential's names lose their `sequential/` prefix);
- `keras+py`: the same archive, planned with --old-model;
- `tf2`: `tf.train.Checkpoint(model=..., optimizer=...)`, planned with --old-model;
- `tf1`: a TF1 graph saved with Saver (`.meta`), into a Keras model.

Ground truth: model files tag their layers with `T(tag, layer)` (or `tag_all(model, prefix)`
for a keras.applications net: every layer by its place in that net). A new variable must be
restored from the old variable of the same tag and index among the layer's weights, and
initialized when its tag is new, when its layer changed shape (a layer is a unit), or when
`undecidable` lists its tag: groups of new tags the graph cannot tell apart by construction
(an identical layer inserted among identical unnamed ones), all initialized, each listing its
own old variable (an inserted one: some of the group's) and no other group's as candidates.
`klass` is the issue-15 class (`CLASSES`). `slow` cases
(keras.applications nets) run in report.py only.
"""

from __future__ import annotations

from dataclasses import dataclass

H5, ARCHIVE, ARCHIVE_PY, TF2, TF1 = "weights.h5", "keras", "keras+py", "tf2", "tf1"
KINDS = (H5, ARCHIVE, ARCHIVE_PY, TF2, TF1)
KERAS_KINDS = (H5, ARCHIVE, TF2)

CLASSES = {
    1: "auto-names are positions",
    2: "a layer is a unit",
    3: "keras.applications",
    4: "decidable",
    5: "traps",
}

# Prepended to every model file (after keras_models' imports): the corpus's identity marks.
TAGS = '''
def T(tag, layer):
    """The corpus's identity of `layer`: the case's ground truth. Keras never reads it."""
    layer._corpus_tag = tag
    return layer


def tag_all(model, prefix):
    """Tag every layer of `model` (a keras.applications net) by its place in it."""
    for index, layer in enumerate(model._flatten_layers(include_self=False, recursive=True)):
        T(f"{prefix}/{index}", layer)
    return model

'''


@dataclass(frozen=True)
class OldTF1:
    body: str  # build_graph() of a TF1 graph (corpus_nets as nets, tf)
    keys: dict  # tag -> the checkpoint keys of that layer, in the Keras layer's weights order


@dataclass(frozen=True)
class Untrained:
    """An old Keras model saved as built, untrained: a keras.applications net, whose training
    step would cost more than all its runs. Its values are its initializers', as a fresh
    model's are; the plan is scored on names, and those are what a trained one has."""

    body: str


@dataclass(frozen=True)
class Case:
    name: str
    klass: int
    old: str  # key of OLD
    new: str  # body of the new model file (defines build_model)
    kinds: tuple[str, ...] = KERAS_KINDS
    undecidable: tuple[tuple[str, ...], ...] = ()
    slow: bool = False
    why: str = ""


def dense_tf1(
    name: str,
    inputs: str,
    units: int,
    activation: str | None = "relu",
    leaves: tuple[str, str] = ("weights", "biases"),
) -> str:
    """TF1 lines for x @ name/weights + name/biases (slim's names; `leaves` for others)."""
    act = f"x = tf.nn.{activation}(x)\n" if activation else ""
    return (
        f'with v1.variable_scope("{name}"):\n'
        f'    w = v1.get_variable("{leaves[0]}", [{inputs}, {units}])\n'
        f'    b = v1.get_variable("{leaves[1]}", [{units}])\n'
        f"x = tf.matmul(x, w) + b\n{act}"
    )


TF_LAYERS = ("kernel", "bias")  # tf.compat.v1.layers.dense's leaves


def slim_bn_cnn_tf1(convs) -> str:
    """A TF1 training graph of tf_slim convs (no bias), each with a batch norm in slim's names
    (tests/slim_cnn.py's, as slim's own needs tf_keras), a mean pool and slim logits, with
    Adam. `convs`: (scope, channels, stride) each."""
    lines = [
        "import tf_slim as slim",
        "from slim_cnn import batch_norm",
        "v1 = tf.compat.v1",
        "x = v1.placeholder(tf.float32, [2, 16, 16, 3], name='images')",
        "params = {'is_training': True}",
        "with slim.arg_scope([slim.conv2d], normalizer_fn=batch_norm, "
        "normalizer_params=params, kernel_size=3):",
        *(f"    x = slim.conv2d(x, {c}, stride={s}, scope='{n}')" for n, c, s in convs),
        "x = tf.reduce_mean(x, [1, 2])",
        "x = slim.fully_connected(x, 4, activation_fn=None, scope='logits')",
        "nets.train([x])",
    ]
    return "\n".join(lines) + "\n"


def slim_bn_keys(scopes) -> dict:
    """Tag -> keys for slim_bn_cnn_tf1: `convN` its weights, `bnN` its batch norm's four in
    Keras's order (gamma, beta, moving mean, moving variance), `logits`."""
    keys = {"logits": ("logits/weights", "logits/biases")}
    for scope in scopes:
        norm = f"{scope}/BatchNorm"
        keys[scope] = (f"{scope}/weights",)
        keys[scope.replace("conv", "bn")] = tuple(
            f"{norm}/{leaf}" for leaf in ("gamma", "beta", "moving_mean", "moving_variance")
        )
    return keys


def keras_bn_cnn(
    blocks, head: str = 'return keras.Model(images, T("logits", layers.Dense(4))(x))'
) -> str:
    """A Keras functional twin of slim_bn_cnn_tf1: Conv2D (no bias) + BatchNormalization +
    ReLU per (conv tag, bn tag, channels, stride), a mean pool, then `head` (by default a
    Dense tagged `logits`, the slim logits' twin)."""
    lines = [
        "def build_model():",
        '    images = keras.Input((16, 16, 3), name="images")',
        "    x = images",
        *(
            f'    x = T("{conv}", layers.Conv2D({c}, 3, strides={s}, padding="same", '
            f'use_bias=False))(x)\n    x = T("{bn}", layers.BatchNormalization(epsilon=1e-3))(x)'
            "\n    x = layers.ReLU()(x)"
            for conv, bn, c, s in blocks
        ),
        "    x = layers.GlobalAveragePooling2D()(x)",
        f"    {head}",
    ]
    return "\n".join(lines) + "\n"


# Three blocks of SUBCLASSED_BLOCKS where there were two, all alike: each old block fits two
# places and the new one three, one question for the user.
IDENTICAL_BLOCKS = tuple((f"b0_{x}", f"b1_{x}", f"new_{x}") for x in ("up", "down", "ln"))

# A subclassed model of residual blocks (a Layer subclass of two Dense and a LayerNorm each);
# `blocks` is the list the model holds.
SUBCLASSED_BLOCKS = """
    class Block(layers.Layer):
        def __init__(self, tag, activation="relu", **kwargs):
            super().__init__(**kwargs)
            self.up = T(tag + "_up", layers.Dense(32, activation=activation))
            self.down = T(tag + "_down", layers.Dense(16))
            self.norm = T(tag + "_ln", layers.LayerNormalization())

        def call(self, x):
            return self.norm(x + self.down(self.up(x)))


    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.stem = T("stem", layers.Dense(16))
            self.blocks = [{blocks}]
            self.head = T("head", layers.Dense(4))

        def call(self, x):
            x = self.stem(x)
            for block in self.blocks:
                x = block(x)
            return self.head(x)


    def input_signature():
        return [tf.TensorSpec([None, 8], tf.float32)]


    def build_model():
        model = Net()
        model(tf.zeros([1, 8]))
        return model
"""


# A subclassed model whose encoder (a Sequential named `scope`) holds residual blocks, each a
# Layer named by hand (`layer_i`, `adapter`) with a Dense and a LayerNorm named `fc`, `ln`.
SUBCLASSED_ENCODER = """
    class Block(layers.Layer):
        def __init__(self, tag, activation="relu", **kwargs):
            super().__init__(**kwargs)
            self.fc = T(tag + "_fc", layers.Dense(16, activation=activation, name="fc"))
            self.ln = T(tag + "_ln", layers.LayerNormalization(name="ln"))

        def call(self, x):
            return self.ln(x + self.fc(x))


    class Net(keras.Model):
        def __init__(self):
            super().__init__(name="net")
            self.encoder = keras.Sequential([{blocks}], name="{scope}")
            self.head = T("head", layers.Dense(4, name="head"))

        def call(self, x):
            return self.head(self.encoder(x))


    def input_signature():
        return [tf.TensorSpec([None, 16], tf.float32)]


    def build_model():
        model = Net()
        model(tf.zeros([1, 16]))
        return model
"""

# A functional model whose encoder (a Sequential named `scope`) holds Sequential blocks named
# by hand (`layer_i`, `adapter`) of a Dense and a LayerNorm with Keras's counted names.
SEQUENTIAL_ENCODER = """
    def block(tag, name, activation="relu"):
        return keras.Sequential(
            [
                T(tag + "_fc", layers.Dense(16, activation=activation)),
                T(tag + "_ln", layers.LayerNormalization()),
            ],
            name=name,
        )


    def build_model():
        inputs = keras.Input((16,))
        encoder = keras.Sequential([keras.Input((16,)), {blocks}], name="{scope}")
        return keras.Model(inputs, T("head", layers.Dense(4, name="head"))(encoder(inputs)))
"""


def encoder_blocks(make: str, count: int, adapter_at=None, activation="relu") -> str:
    """The block list of SUBCLASSED_ENCODER (`make` "Block") or SEQUENTIAL_ENCODER ("block"):
    blocks b0.. named layer_0.., and an adapter block (tag `new`) at `adapter_at`."""
    if make == "Block":
        items = [f'Block("b{i}", name="layer_{i}")' for i in range(count)]
        adapter = f'Block("new", "{activation}", name="adapter")'
    else:
        items = [f'block("b{i}", "layer_{i}")' for i in range(count)]
        adapter = f'block("new", "adapter", "{activation}")'
    if adapter_at is not None:
        items.insert(adapter_at, adapter)
    return ", ".join(items)


def numbered_blocks(make: str, old: int, inserted_at: int, activation="relu") -> str:
    """Blocks of SEQUENTIAL_ENCODER (`make` "block") or SUBCLASSED_ENCODER ("Block") named by a
    loop's counter (layer_0 ...): the `old` blocks b0.. with a block tagged `new` inserted at
    `inserted_at` and every block numbered by its place (those after it renumbered)."""
    tags = [f"b{i}" for i in range(old)]
    tags.insert(inserted_at, "new")
    made = []
    for place, tag in enumerate(tags):
        act = activation if tag == "new" else "relu"
        if make == "Block":
            made.append(f'Block("{tag}", "{act}", name="layer_{place}")')
        else:
            made.append(f'block("{tag}", "layer_{place}", "{act}")')
    return ", ".join(made)


# A DenseNet in small: blocks (BN, ReLU, conv) each concatenated to its input, named by a
# loop (`conv2_block{i}_...`), then a transition (`pool2_bn`, `pool2_conv`); tagged by name.
DENSE_BLOCKS = """
    def build_model():
        inputs = keras.Input((8, 8, 3))
        x = T("conv1", layers.Conv2D(8, 3, padding="same", use_bias=False, name="conv1"))(inputs)
        for i in range(1, {blocks} + 1):
            y = T(f"b{{i}}_bn", layers.BatchNormalization(name=f"conv2_block{{i}}_0_bn"))(x)
            y = layers.ReLU()(y)
            name = f"conv2_block{{i}}_1_conv"
            conv = layers.Conv2D(4, 3, padding="same", use_bias=False, name=name)
            x = layers.Concatenate()([x, T(f"b{{i}}_conv", conv)(y)])
        x = T("pool2_bn", layers.BatchNormalization(name="pool2_bn"))(x)
        x = layers.ReLU()(x)
        x = T("pool2_conv", layers.Conv2D(8, 1, use_bias=False, name="pool2_conv"))(x)
        x = layers.GlobalAveragePooling2D()(x)
        return keras.Model(inputs, T("head", layers.Dense(3, name="head"))(x))
"""


def wrapped_app(app: str, args: str, prefix: str, size: int, head: int, stem: str = "") -> str:
    """A keras.applications net (tagged by `prefix`) inside a functional model with a Dense
    head of `head` classes, and, with `stem`, that layer (tagged `new`) made before the net
    and applied to the input first (every counted name in the net shifts by one)."""
    made = f'    stem = T("new", {stem})\n' if stem else ""
    applied = "base(stem(inputs))" if stem else "base(inputs)"
    return (
        f"def build_model():\n{made}"
        f"    base = tag_all(keras.applications.{app}({args}), {prefix!r})\n"
        f"    inputs = keras.Input(({size}, {size}, 3))\n"
        f'    return keras.Model(inputs, T("head", layers.Dense({head}))({applied}))\n'
    )


def app_with_top(app: str, size: int, prefix: str) -> Untrained:
    """A keras.applications net with its own 10-class top, untrained (Untrained)."""
    return Untrained(
        f"def build_model():\n"
        f"    net = keras.applications.{app}(input_shape=({size}, {size}, 3), weights=None, "
        f"classes=10)\n"
        f"    return tag_all(net, {prefix!r})\n"
    )


def notop(size: int) -> str:
    return f'input_shape=({size}, {size}, 3), include_top=False, weights=None, pooling="avg"'


OLD = {
    # -- Sequential / functional CNNs with automatic names -------------------------------
    "seq_cnn": """
        def build_model():
            return keras.Sequential([
                keras.Input((12, 12, 3)),
                T("c1", layers.Conv2D(8, 3, padding="same", activation="relu")),
                T("c2", layers.Conv2D(8, 3, padding="same", activation="relu")),
                layers.GlobalAveragePooling2D(),
                T("fc", layers.Dense(4)),
            ])
    """,
    "seq_mlp": """
        def build_model():
            return keras.Sequential([
                keras.Input((8,)),
                T("a", layers.Dense(32, activation="relu")),
                T("b", layers.Dense(16, activation="relu")),
                T("head", layers.Dense(4)),
            ])
    """,
    "nested_seq": """
        def build_model():
            backbone = keras.Sequential([
                keras.Input((12, 12, 3)),
                T("c1", layers.Conv2D(8, 3, padding="same", activation="relu")),
                T("c2", layers.Conv2D(8, 3, padding="same", activation="relu")),
                layers.GlobalAveragePooling2D(),
            ])
            inputs = keras.Input((12, 12, 3))
            return keras.Model(inputs, T("fc", layers.Dense(4))(backbone(inputs)))
    """,
    # -- layers as units -----------------------------------------------------------------
    "dense_bn_head": """
        def build_model():
            inputs = keras.Input((12,))
            h = T("feat", layers.Dense(16, use_bias=False, name="features"))(inputs)
            h = T("feat_bn", layers.BatchNormalization(name="features_bn"))(h)
            h = layers.ReLU()(h)
            return keras.Model(inputs, T("pred", layers.Dense(16, name="predictions"))(h))
    """,
    "softmax_head": """
        def build_model():
            x = keras.Input((8,))
            h = T("h", layers.Dense(16, activation="relu"))(x)
            out = T("pred", layers.Dense(10, activation="softmax", name="predictions"))(h)
            return keras.Model(x, out)
    """,
    "dense_block2": DENSE_BLOCKS.format(blocks=2),
    "conv_bn_named": """
        def build_model():
            x = keras.Input((8, 8, 3))
            h = T("c", layers.Conv2D(8, 3, use_bias=False, name="stem_conv"))(x)
            h = T("bn", layers.BatchNormalization(name="stem_bn"))(h)
            h = layers.GlobalAveragePooling2D()(h)
            return keras.Model(x, T("out", layers.Dense(3, name="out"))(h))
    """,
    "seq_gru": """
        def build_model():
            return keras.Sequential([
                keras.Input((6, 4)),
                T("g1", layers.GRU(8, return_sequences=True)),
                T("g2", layers.GRU(8)),
                T("out", layers.Dense(3)),
            ])
    """,
    "encoder_decoder_seq": """
        def build_model():
            encoder = keras.Sequential([
                keras.Input((8,)),
                T("e1", layers.Dense(16, activation="relu")),
                T("e2", layers.Dense(16, activation="relu")),
            ], name="encoder")
            decoder = keras.Sequential([
                keras.Input((16,)),
                T("d1", layers.Dense(16, activation="relu")),
                T("d2", layers.Dense(8)),
            ], name="decoder")
            x = keras.Input((8,))
            return keras.Model(x, decoder(encoder(x)))
    """,
    "mlp_predictions": """
        def build_model():
            inputs = keras.Input((8,))
            h = T("d1", layers.Dense(16, activation="relu"))(inputs)
            out = T("pred", layers.Dense(10, activation="softmax", name="predictions"))(h)
            return keras.Model(inputs, out)
    """,
    "seq_conv_bn": """
        def build_model():
            return keras.Sequential([
                keras.Input((12, 12, 3)),
                T("c1", layers.Conv2D(8, 3, padding="same", use_bias=False)),
                T("b1", layers.BatchNormalization()),
                layers.ReLU(),
                T("c2", layers.Conv2D(8, 3, padding="same", use_bias=False)),
                T("b2", layers.BatchNormalization()),
                layers.ReLU(),
                layers.GlobalAveragePooling2D(),
                T("fc", layers.Dense(4)),
            ])
    """,
    "nobias_convs": """
        def build_model():
            inputs = keras.Input((16, 16, 3))
            x = T("c1", layers.Conv2D(8, 3, padding="same", use_bias=False))(inputs)
            x = T("c2", layers.Conv2D(16, 3, padding="same", use_bias=False))(x)
            x = T("c3", layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False))(x)
            x = layers.GlobalAveragePooling2D()(x)
            return keras.Model(inputs, T("fc", layers.Dense(4))(x))
    """,
    # -- decidable -------------------------------------------------------------------------
    "relu_pair": """
        def build_model():
            inputs = keras.Input((16,))
            h = T("r1", layers.Dense(16, activation="relu"))(inputs)
            h = T("r2", layers.Dense(16, activation="relu"))(h)
            return keras.Model(inputs, T("head", layers.Dense(3))(h))
    """,
    "one_head": """
        def build_model():
            inputs = keras.Input((8,))
            h = T("trunk", layers.Dense(16, activation="relu"))(inputs)
            return keras.Model(inputs, T("head", layers.Dense(4))(h))
    """,
    "subclassed": """
        class Net(keras.Model):
            def __init__(self):
                super().__init__()
                self.encoder = T("enc", layers.Dense(16, activation="relu"))
                self.mixer = T("mix", layers.Dense(16, activation="tanh"))
                self.head = T("head", layers.Dense(4))

            def call(self, x):
                return self.head(self.mixer(self.encoder(x)))


        def input_signature():
            return [tf.TensorSpec([None, 16], tf.float32)]


        def build_model():
            model = Net()
            model(tf.zeros([1, 16]))
            return model
    """,
    # -- traps ---------------------------------------------------------------------------
    "two_heads_acts": """
        def build_model():
            inputs = keras.Input((8,))
            h = T("trunk", layers.Dense(16, activation="relu"))(inputs)
            a = T("ha", layers.Dense(4, activation="sigmoid"))(h)
            b = T("hb", layers.Dense(4, activation="softmax"))(h)
            return keras.Model(inputs, [a, b])
    """,
    "two_heads_same": """
        def build_model():
            inputs = keras.Input((8,))
            h = T("trunk", layers.Dense(16, activation="relu"))(inputs)
            a = T("ha", layers.Dense(4))(h)
            b = T("hb", layers.Dense(4))(h)
            return keras.Model(inputs, [a, b])
    """,
    "relu_tanh": """
        def build_model():
            return keras.Sequential([
                keras.Input((8,)),
                T("a", layers.Dense(16, activation="relu")),
                T("b", layers.Dense(16, activation="tanh")),
                T("head", layers.Dense(4)),
            ])
    """,
    "named_proj": """
        def build_model():
            inputs = keras.Input((8,), name="x")
            h = T("proj", layers.Dense(16, activation="relu", name="proj"))(inputs)
            h = T("mid", layers.Dense(16, activation="relu", name="mid"))(h)
            return keras.Model(inputs, T("out", layers.Dense(3, name="out"))(h))
    """,
    # -- TF1 checkpoints into Keras ----------------------------------------------------------
    "tf1_mlp": OldTF1(
        'v1 = tf.compat.v1\nx = v1.placeholder(tf.float32, [2, 16], name="inputs")\n'
        + dense_tf1("fc1", "16", 16)
        + dense_tf1("fc2", "16", 16)
        + dense_tf1("logits", "16", 4, None),
        {
            "fc1": ("fc1/weights", "fc1/biases"),
            "fc2": ("fc2/weights", "fc2/biases"),
            "logits": ("logits/weights", "logits/biases"),
        },
    ),
    # -- keras.applications nets (built untrained: see Untrained) ------------------------------
    "mnv2_head10": Untrained(
        """
        def build_model():
            base = tag_all(
                keras.applications.MobileNetV2(
                    input_shape=(32, 32, 3), alpha=0.35, include_top=False, weights=None,
                    pooling="avg",
                ),
                "mnv2",
            )
            inputs = keras.Input((32, 32, 3))
            return keras.Model(inputs, T("head", layers.Dense(10))(base(inputs)))
        """
    ),
    "resnet50_top10": Untrained(
        """
        def build_model():
            return tag_all(
                keras.applications.ResNet50(input_shape=(32, 32, 3), weights=None, classes=10),
                "resnet50",
            )
        """
    ),
    "densenet121_notop": Untrained(
        """
        def build_model():
            return tag_all(
                keras.applications.DenseNet121(
                    input_shape=(32, 32, 3), include_top=False, weights=None
                ),
                "densenet121",
            )
        """
    ),
    "effb0_pooled": Untrained(
        """
        def build_model():
            return tag_all(
                keras.applications.EfficientNetB0(
                    input_shape=(32, 32, 3), include_top=False, weights=None, pooling="avg"
                ),
                "effb0",
            )
        """
    ),
    "nasnet_mobile_pooled": Untrained(
        """
        def build_model():
            return tag_all(
                keras.applications.NASNetMobile(
                    input_shape=(32, 32, 3), include_top=False, weights=None, pooling="avg"
                ),
                "nasnet",
            )
        """
    ),
    "mnv3small_top10": Untrained(
        """
        def build_model():
            return tag_all(
                keras.applications.MobileNetV3Small(
                    input_shape=(32, 32, 3), weights=None, classes=10
                ),
                "mnv3",
            )
        """
    ),
    "inceptionv3_head10": Untrained(wrapped_app("InceptionV3", notop(75), "inception", 75, 10)),
    "seq_built_by_shape": """
        def build_model():
            model = keras.Sequential([
                T("a", layers.Dense(16, activation="relu")),
                T("b", layers.Dense(16, activation="relu")),
                T("head", layers.Dense(3)),
            ])
            model.build((None, 16))
            return model
    """,
    "branches": """
        def build_model():
            inputs = keras.Input((12, 12, 3))
            x = T("c0", layers.Conv2D(8, 3, padding="same", activation="relu"))(inputs)
            b1 = T("b1", layers.Conv2D(8, 1, activation="relu"))(x)
            b2 = T("b2", layers.Conv2D(8, 1, activation="relu"))(x)
            x = layers.GlobalAveragePooling2D()(layers.Concatenate()([b1, b2]))
            return keras.Model(inputs, T("fc", layers.Dense(4))(x))
    """,
    "seq_act_layers": """
        def build_model():
            return keras.Sequential([
                keras.Input((8,)),
                T("d0", layers.Dense(16)),
                layers.ReLU(),
                T("d1", layers.Dense(16)),
                layers.ReLU(),
                T("head", layers.Dense(3)),
            ])
    """,
    "prelu_mlp": """
        def build_model():
            inputs = keras.Input((8,))
            h = T("d1", layers.Dense(16))(inputs)
            h = T("p1", layers.PReLU())(h)
            h = T("d2", layers.Dense(16))(h)
            h = T("p2", layers.PReLU())(h)
            return keras.Model(inputs, T("head", layers.Dense(3))(h))
    """,
    "resnet_tiny": """
        def build_model():
            inputs = keras.Input((12, 12, 3))
            x = T("stem", layers.Conv2D(8, 3, padding="same", activation="relu"))(inputs)
            y = T("r1", layers.Conv2D(8, 3, padding="same", activation="relu"))(x)
            y = T("r2", layers.Conv2D(8, 3, padding="same"))(y)
            x = layers.ReLU()(layers.Add()([x, y]))
            x = layers.GlobalAveragePooling2D()(x)
            return keras.Model(inputs, T("fc", layers.Dense(4))(x))
    """,
    "bilstm": """
        def build_model():
            tokens = keras.Input((6,), dtype="int32")
            h = T("emb", layers.Embedding(40, 8))(tokens)
            h = T("bi", layers.Bidirectional(layers.LSTM(8)))(h)
            return keras.Model(tokens, T("head", layers.Dense(4))(h))
    """,
    "ln_mlp": """
        def build_model():
            inputs = keras.Input((16,))
            h = T("d1", layers.Dense(16, activation="gelu"))(inputs)
            h = T("n1", layers.LayerNormalization())(h)
            h = T("d2", layers.Dense(16, activation="gelu"))(h)
            h = T("n2", layers.LayerNormalization())(h)
            return keras.Model(inputs, T("head", layers.Dense(3))(h))
    """,
    "relu_chain": """
        def build_model():
            inputs = keras.Input((8,))
            h = T("d0", layers.Dense(16, activation="relu"))(inputs)
            h = T("d1", layers.Dense(16, activation="relu"))(h)
            h = T("d2", layers.Dense(16, activation="relu"))(h)
            return keras.Model(inputs, T("head", layers.Dense(3))(h))
    """,
    # -- more small models -------------------------------------------------------------------
    "nested_functional": """
        def build_model():
            x = keras.Input((8,))
            h = T("e1", layers.Dense(16, activation="relu"))(x)
            h = T("e2", layers.Dense(16, activation="relu"))(h)
            encoder = keras.Model(x, h, name="encoder")
            inputs = keras.Input((8,))
            return keras.Model(inputs, T("head", layers.Dense(3))(encoder(inputs)))
    """,
    "relu_stack": """
        def build_model():
            return keras.Sequential([
                keras.Input((8,)),
                T("a", layers.Dense(16, activation="relu")),
                T("b", layers.Dense(16, activation="relu")),
                T("head", layers.Dense(16)),
            ])
    """,
    "tf1_convnet": OldTF1(
        "v1 = tf.compat.v1\n"
        "x = v1.placeholder(tf.float32, [2, 12, 12, 3], name='images')\n"
        "x = nets.conv(x, 'conv1')\n"
        "x = nets.conv(x, 'conv2')\n"
        "x = tf.reduce_mean(x, [1, 2])\n"
        "with v1.variable_scope('logits'):\n"
        "    w = v1.get_variable('weights', [8, 4])\n"
        "    b = v1.get_variable('biases', [4])\n"
        "x = tf.matmul(x, w) + b\n",
        {
            "conv1": ("conv1/weights", "conv1/biases"),
            "conv2": ("conv2/weights", "conv2/biases"),
            "logits": ("logits/weights", "logits/biases"),
        },
    ),
    "tf1_layers_mlp": OldTF1(
        'v1 = tf.compat.v1\nx = v1.placeholder(tf.float32, [2, 16], name="inputs")\n'
        + dense_tf1("dense", "16", 16, leaves=TF_LAYERS)
        + dense_tf1("dense_1", "16", 16, leaves=TF_LAYERS)
        + dense_tf1("dense_2", "16", 4, None, leaves=TF_LAYERS),
        {
            "d0": ("dense/kernel", "dense/bias"),
            "d1": ("dense_1/kernel", "dense_1/bias"),
            "head": ("dense_2/kernel", "dense_2/bias"),
        },
    ),
    "subclassed_blocks": """
        class Net(keras.Model):
            def __init__(self):
                super().__init__()
                self.blocks = [T(f"b{i}", layers.Dense(16, activation="relu")) for i in range(3)]
                self.head = T("head", layers.Dense(4))

            def call(self, x):
                for block in self.blocks:
                    x = block(x)
                return self.head(x)


        def input_signature():
            return [tf.TensorSpec([None, 16], tf.float32)]


        def build_model():
            model = Net()
            model(tf.zeros([1, 16]))
            return model
    """,
    "lstm_text": """
        def build_model():
            tokens = keras.Input((6,), dtype="int32")
            h = T("emb", layers.Embedding(50, 8))(tokens)
            h = T("lstm", layers.LSTM(8))(h)
            return keras.Model(tokens, T("head", layers.Dense(4))(h))
    """,
    "separable_cnn": """
        def build_model():
            return keras.Sequential([
                keras.Input((12, 12, 3)),
                T("c1", layers.Conv2D(8, 3, padding="same", activation="relu")),
                T("s1", layers.SeparableConv2D(8, 3, padding="same", activation="relu")),
                layers.GlobalAveragePooling2D(),
                T("fc", layers.Dense(4)),
            ])
    """,
    # -- round 2, held out from the matcher's tuning: built the way a user would -------------
    "seq_cnn_pool": """
        def build_model():
            return keras.Sequential([
                keras.Input((16, 16, 3)),
                T("c1", layers.Conv2D(8, 3, activation="relu")),
                layers.MaxPooling2D(),
                T("c2", layers.Conv2D(16, 3, activation="relu")),
                layers.MaxPooling2D(),
                layers.Flatten(),
                T("d1", layers.Dense(32, activation="relu")),
                T("out", layers.Dense(10)),
            ])
    """,
    "subclassed_res_blocks": SUBCLASSED_BLOCKS.format(blocks='Block("b0"), Block("b1")'),
    "tf1_slim_bn_cnn": OldTF1(
        slim_bn_cnn_tf1((("conv1", 8, 1), ("conv2", 16, 1), ("conv3", 16, 2))),
        slim_bn_keys(("conv1", "conv2", "conv3")),
    ),
    "named_chain": """
        def build_model():
            inputs = keras.Input((16,))
            h = inputs
            for i in range(4):
                h = T(f"fc{i}", layers.Dense(16, activation="relu", name=f"enc_{i}_fc"))(h)
                h = T(f"ln{i}", layers.LayerNormalization(name=f"enc_{i}_ln"))(h)
            return keras.Model(inputs, T("head", layers.Dense(3, name="head"))(h))
    """,
    "named_net_normalized": """
        def build_model():
            inputs = keras.Input((8,))
            h = T("norm", layers.Normalization())(inputs)
            h = T("a", layers.Dense(16, activation="relu", name="hidden"))(h)
            return keras.Model(inputs, T("head", layers.Dense(4, name="logits"))(h), name="net")
    """,
    "named_chain_suffix": """
        def build_model():
            inputs = keras.Input((16,))
            h = inputs
            for i in range(4):
                h = T(f"fc{i}", layers.Dense(16, activation="relu", name=f"block{i}_fc_enc"))(h)
                h = T(f"ln{i}", layers.LayerNormalization(name=f"block{i}_ln_enc"))(h)
            return keras.Model(inputs, T("head", layers.Dense(3, name="head"))(h))
    """,
    "xception_head10": Untrained(wrapped_app("Xception", notop(71), "xception", 71, 10)),
    "inception_resnet_v2_head10": Untrained(
        wrapped_app("InceptionResNetV2", notop(75), "irv2", 75, 10)
    ),
    "resnet50v2_top10": Untrained(
        """
        def build_model():
            return tag_all(
                keras.applications.ResNet50V2(input_shape=(32, 32, 3), weights=None, classes=10),
                "resnet50v2",
            )
        """
    ),
    "mobilenet_top10": Untrained(
        """
        def build_model():
            return tag_all(
                keras.applications.MobileNet(
                    input_shape=(32, 32, 3), alpha=0.25, weights=None, classes=10
                ),
                "mobilenet",
            )
        """
    ),
    "subclassed_encoder": SUBCLASSED_ENCODER.format(
        blocks=encoder_blocks("Block", 4), scope="encoder"
    ),
    "sequential_encoder": SEQUENTIAL_ENCODER.format(
        blocks=encoder_blocks("block", 4), scope="encoder"
    ),
    # -- round 3: more of what users do to Sequential and functional models --------------
    "seq_plain_cnn": """
        def build_model():
            return keras.Sequential([
                keras.Input((16, 16, 3)),
                T("c1", layers.Conv2D(16, 3, activation="relu")),
                T("c2", layers.Conv2D(16, 3, activation="relu")),
                layers.Flatten(),
                T("d1", layers.Dense(32, activation="relu")),
                T("out", layers.Dense(10, activation="softmax")),
            ])
    """,
    "seq_mlp3": """
        def build_model():
            return keras.Sequential([
                keras.Input((20,)),
                T("d1", layers.Dense(32, activation="relu")),
                T("d2", layers.Dense(32, activation="relu")),
                T("out", layers.Dense(5)),
            ])
    """,
    "text_cnn": """
        def build_model():
            tokens = keras.Input((20,), dtype="int32")
            h = T("emb", layers.Embedding(100, 16))(tokens)
            h = T("c1", layers.Conv1D(16, 3, padding="same", activation="relu"))(h)
            h = T("c2", layers.Conv1D(16, 3, strides=2, padding="same", activation="relu"))(h)
            h = layers.GlobalMaxPooling1D()(h)
            return keras.Model(tokens, T("out", layers.Dense(4))(h))
    """,
    "autoencoder": """
        UP = dict(strides=2, padding="same", activation="relu")


        def build_model():
            x = keras.Input((16, 16, 1))
            h = T("e1", layers.Conv2D(8, 3, strides=2, padding="same", activation="relu"))(x)
            h = T("e2", layers.Conv2D(8, 3, strides=2, padding="same", activation="relu"))(h)
            h = T("d1", layers.Conv2DTranspose(8, 3, **UP))(h)
            h = T("d2", layers.Conv2DTranspose(8, 3, **UP))(h)
            return keras.Model(x, T("out", layers.Conv2D(1, 3, padding="same"))(h))
    """,
    "tf1_layers_mlp3": OldTF1(
        'v1 = tf.compat.v1\nx = v1.placeholder(tf.float32, [2, 20], name="inputs")\n'
        + dense_tf1("dense", "20", 32, leaves=TF_LAYERS)
        + dense_tf1("dense_1", "32", 32, leaves=TF_LAYERS)
        + dense_tf1("dense_2", "32", 5, None, leaves=TF_LAYERS),
        {
            "d1": ("dense/kernel", "dense/bias"),
            "d2": ("dense_1/kernel", "dense_1/bias"),
            "out": ("dense_2/kernel", "dense_2/bias"),
        },
    ),
    "branches3": """
        def build_model():
            inputs = keras.Input((12, 12, 3))
            x = T("c0", layers.Conv2D(8, 3, padding="same", activation="relu"))(inputs)
            b1 = T("b1", layers.Conv2D(8, 1, activation="relu"))(x)
            b2 = T("b2", layers.Conv2D(8, 3, padding="same", activation="relu"))(x)
            x = layers.GlobalAveragePooling2D()(layers.Concatenate()([b1, b2]))
            return keras.Model(inputs, T("fc", layers.Dense(4))(x))
    """,
    "convnext_tiny_head10": Untrained(wrapped_app("ConvNeXtTiny", notop(32), "cnx", 32, 10)),
    "nasnet_mobile_head10": Untrained(wrapped_app("NASNetMobile", notop(32), "nas", 32, 10)),
    "mnv3small_head10": Untrained(wrapped_app("MobileNetV3Small", notop(32), "mnv3s", 32, 10)),
    "efficientnetv2b0_top10": app_with_top("EfficientNetV2B0", 32, "effv2"),
    "inceptionv3_top10": app_with_top("InceptionV3", 75, "iv3"),
    "xception_top10": app_with_top("Xception", 71, "xc"),
    "inception_resnet_v2_top10": app_with_top("InceptionResNetV2", 75, "irv2"),
    "relu_chain4": """
        def build_model():
            return keras.Sequential([
                keras.Input((8,)),
                T("d0", layers.Dense(16, activation="relu")),
                T("d1", layers.Dense(16, activation="relu")),
                T("d2", layers.Dense(16, activation="relu")),
                T("d3", layers.Dense(16, activation="relu")),
                T("head", layers.Dense(3)),
            ])
    """,
    "conv_chain": """
        def build_model():
            return keras.Sequential([
                keras.Input((12, 12, 3)),
                T("c0", layers.Conv2D(8, 3, padding="same", activation="relu")),
                T("c1", layers.Conv2D(8, 3, padding="same", activation="relu")),
                T("c2", layers.Conv2D(8, 3, padding="same", activation="relu")),
                T("c3", layers.Conv2D(8, 3, padding="same", activation="tanh")),
                layers.GlobalAveragePooling2D(),
                T("head", layers.Dense(3)),
            ])
    """,
}

CASES = (
    # -- 1. Keras auto-names are positions --------------------------------------------------
    Case(
        "seq_cnn_conv_inserted",
        1,
        "seq_cnn",
        """
        def build_model():
            return keras.Sequential([
                keras.Input((12, 12, 3)),
                T("c1", layers.Conv2D(8, 3, padding="same", activation="relu")),
                T("new", layers.Conv2D(8, 3, padding="same", activation="tanh")),
                T("c2", layers.Conv2D(8, 3, padding="same", activation="relu")),
                layers.GlobalAveragePooling2D(),
                T("fc", layers.Dense(4)),
            ])
        """,
        kinds=(H5, ARCHIVE, ARCHIVE_PY, TF2),
        why="a tanh conv of c2's shape inserted before it: old conv2d_1 is new conv2d_2",
    ),
    Case(
        "seq_mlp_dense_inserted",
        1,
        "seq_mlp",
        """
        def build_model():
            return keras.Sequential([
                keras.Input((8,)),
                T("a", layers.Dense(32, activation="relu")),
                T("new", layers.Dense(32, activation="relu")),
                T("b", layers.Dense(16, activation="relu")),
                T("head", layers.Dense(4)),
            ])
        """,
        why="every name after the insertion shifts by one; each shape says who is who",
    ),
    Case(
        "seq_to_functional_inserted",
        1,
        "seq_cnn",
        """
        def build_model():
            inputs = keras.Input((12, 12, 3))
            x = T("c1", layers.Conv2D(8, 3, padding="same", activation="relu"))(inputs)
            x = T("new", layers.Conv2D(8, 3, padding="same"))(x)
            x = T("new_bn", layers.BatchNormalization())(x)
            x = T("c2", layers.Conv2D(8, 3, padding="same", activation="relu"))(x)
            x = layers.GlobalAveragePooling2D()(x)
            return keras.Model(inputs, T("fc", layers.Dense(4))(x))
        """,
        why="sequential/ -> (root): a prefix rule would make conv2d_1 an identity",
    ),
    Case(
        "nested_seq_flattened_inserted",
        1,
        "nested_seq",
        """
        def build_model():
            inputs = keras.Input((12, 12, 3))
            x = T("c1", layers.Conv2D(8, 3, padding="same", activation="relu"))(inputs)
            x = T("c2", layers.Conv2D(8, 3, padding="same", activation="relu"))(x)
            x = T("new", layers.Conv2D(8, 3, padding="same", activation="sigmoid"))(x)
            x = layers.GlobalAveragePooling2D()(x)
            return keras.Model(inputs, T("fc", layers.Dense(4))(x))
        """,
        why="the backbone's container is gone and a conv of c2's shape follows c2",
    ),
    Case(
        "seq_cnn_identical_conv_inserted",
        1,
        "seq_cnn",
        """
        def build_model():
            return keras.Sequential([
                keras.Input((12, 12, 3)),
                T("c1", layers.Conv2D(8, 3, padding="same", activation="relu")),
                T("new", layers.Conv2D(8, 3, padding="same", activation="relu")),
                T("c2", layers.Conv2D(8, 3, padding="same", activation="relu")),
                layers.GlobalAveragePooling2D(),
                T("fc", layers.Dense(4)),
            ])
        """,
        kinds=(H5, ARCHIVE, TF2),
        undecidable=(("new", "c2"),),
        why="an identical conv among identical unnamed ones: which is new cannot be told",
    ),
    # -- 2. a layer is a unit ------------------------------------------------------------------
    Case(
        "dense_inserted_with_classifier_shape",
        2,
        "mlp_predictions",
        """
        def build_model():
            inputs = keras.Input((8,))
            h = T("d1", layers.Dense(16, activation="relu"))(inputs)
            h = T("new", layers.Dense(10, activation="relu"))(h)
            h = T("new2", layers.Dense(16, activation="relu"))(h)
            out = T("pred", layers.Dense(10, activation="softmax", name="predictions"))(h)
            return keras.Model(inputs, out)
        """,
        why="the inserted dense_1 has predictions' kernel shape; predictions stays predictions",
    ),
    Case(
        "bn_block_inserted",
        2,
        "seq_conv_bn",
        """
        def build_model():
            return keras.Sequential([
                keras.Input((12, 12, 3)),
                T("c1", layers.Conv2D(8, 3, padding="same", use_bias=False)),
                T("b1", layers.BatchNormalization()),
                layers.ReLU(),
                T("new", layers.Conv2D(8, 3, padding="same", use_bias=False)),
                T("new_bn", layers.BatchNormalization()),
                layers.ReLU(max_value=6.0),
                T("c2", layers.Conv2D(8, 3, padding="same", use_bias=False)),
                T("b2", layers.BatchNormalization()),
                layers.ReLU(),
                layers.GlobalAveragePooling2D(),
                T("fc", layers.Dense(4)),
            ])
        """,
        kinds=(H5, ARCHIVE, TF2),
        why="a conv+BN+ReLU6 block inserted: b2's four variables go to batch_normalization_2",
    ),
    Case(
        "nobias_conv_inserted",
        2,
        "nobias_convs",
        """
        def build_model():
            inputs = keras.Input((16, 16, 3))
            x = T("c1", layers.Conv2D(8, 3, padding="same", use_bias=False))(inputs)
            x = T("c2", layers.Conv2D(16, 3, padding="same", use_bias=False))(x)
            x = T("new", layers.Conv2D(16, 3, padding="same", use_bias=False))(x)
            x = T("c3", layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False))(x)
            x = layers.GlobalAveragePooling2D()(x)
            return keras.Model(inputs, T("fc", layers.Dense(4))(x))
        """,
        kinds=(H5, TF2),
        why="one-variable layers; the inserted conv has c3's shape but stride 1, c3 stride 2",
    ),
    # -- 4. decidable --------------------------------------------------------------------------
    Case(
        "tanh_between_relus",
        4,
        "relu_pair",
        """
        def build_model():
            inputs = keras.Input((16,))
            h = T("r1", layers.Dense(16, activation="relu"))(inputs)
            h = T("new", layers.Dense(16, activation="tanh"))(h)
            h = T("r2", layers.Dense(16, activation="relu"))(h)
            return keras.Model(inputs, T("head", layers.Dense(3))(h))
        """,
        why="issue 15: old relu dense_1 is the new relu dense_2 (same op, same successor)",
    ),
    Case(
        "new_head_beside",
        4,
        "one_head",
        """
        def build_model():
            inputs = keras.Input((8,))
            h = T("trunk", layers.Dense(16, activation="relu"))(inputs)
            head = T("head", layers.Dense(4))(h)
            return keras.Model(inputs, [head, T("aux", layers.Dense(4))(h)])
        """,
        why="a head of the same shape added after the old one: output 0 and dense_1 agree",
    ),
    Case(
        "subclassed_attributes_renamed",
        4,
        "subclassed",
        """
        class Net(keras.Model):
            def __init__(self):
                super().__init__()
                self.mixing = T("mix", layers.Dense(16, activation="tanh"))
                self.embed = T("enc", layers.Dense(16, activation="relu"))
                self.classifier = T("head", layers.Dense(4))

            def call(self, x):
                return self.classifier(self.mixing(self.embed(x)))


        def input_signature():
            return [tf.TensorSpec([None, 16], tf.float32)]


        def build_model():
            model = Net()
            model(tf.zeros([1, 16]))
            return model
        """,
        kinds=(H5, TF2),
        why="attributes renamed and made in another order: dense and dense_1 trade places",
    ),
    Case(
        "tf1_mlp_into_sequential_inserted",
        4,
        "tf1_mlp",
        """
        def build_model():
            return keras.Sequential([
                keras.Input((16,)),
                T("fc1", layers.Dense(16, activation="relu")),
                T("new", layers.Dense(16, activation="tanh")),
                T("fc2", layers.Dense(16, activation="relu")),
                T("logits", layers.Dense(4)),
            ])
        """,
        kinds=(TF1,),
        why="slim names into Keras auto-names, a tanh layer inserted between the relus",
    ),
    # -- 5. traps ------------------------------------------------------------------------------
    Case(
        "heads_swapped_by_activation",
        5,
        "two_heads_acts",
        """
        def build_model():
            inputs = keras.Input((8,))
            h = T("trunk", layers.Dense(16, activation="relu"))(inputs)
            b = T("hb", layers.Dense(4, activation="softmax"))(h)
            a = T("ha", layers.Dense(4, activation="sigmoid"))(h)
            return keras.Model(inputs, [b, a])
        """,
        why="heads made and returned in the other order: dense_1 is now the softmax head",
    ),
    Case(
        "heads_identical_made_swapped",
        5,
        "two_heads_same",
        """
        def build_model():
            inputs = keras.Input((8,))
            h = T("trunk", layers.Dense(16, activation="relu"))(inputs)
            b = T("hb", layers.Dense(4))
            a = T("ha", layers.Dense(4))
            return keras.Model(inputs, [a(h), b(h)])
        """,
        undecidable=(("ha", "hb"),),
        why="two identical heads made in the other order: names swap, nothing else tells",
    ),
    Case(
        "layers_reordered",
        5,
        "relu_tanh",
        """
        def build_model():
            return keras.Sequential([
                keras.Input((8,)),
                T("b", layers.Dense(16, activation="tanh")),
                T("a", layers.Dense(16, activation="relu")),
                T("head", layers.Dense(4)),
            ])
        """,
        why="relu and tanh layers swapped: each changed shape; dense fits by name and shape",
    ),
    Case(
        "same_name_other_role",
        5,
        "named_proj",
        """
        def build_model():
            x = keras.Input((8,), name="x")
            y = keras.Input((8,), name="y")
            h = T("proj", layers.Dense(16, activation="relu", name="stem"))(x)
            h = T("mid", layers.Dense(16, activation="relu", name="mid"))(h)
            g = T("new", layers.Dense(16, activation="relu", name="proj"))(y)
            aux = T("aux", layers.Dense(3, name="aux"))(g)
            return keras.Model([x, y], [T("out", layers.Dense(3, name="out"))(h), aux])
        """,
        why="'proj' renamed 'stem'; a new layer named 'proj' of the same shape reads input y",
    ),
    Case(
        "dense_bn_inserted_head_renamed",
        2,
        "dense_bn_head",
        """
        def build_model():
            inputs = keras.Input((12,))
            h = T("feat", layers.Dense(16, use_bias=False, name="features"))(inputs)
            h = T("feat_bn", layers.BatchNormalization(name="features_bn"))(h)
            h = layers.ReLU()(h)
            h = T("new", layers.Dense(16))(h)
            h = T("new_bn", layers.BatchNormalization())(h)
            return keras.Model(inputs, T("pred", layers.Dense(16, name="logits"))(h))
        """,
        kinds=(H5, ARCHIVE),
        undecidable=(("pred", "new"),),
        why="a linear dense of predictions' shape and a BN inserted before it, predictions "
        "renamed logits: two alike layers in series, one old; no copies (towers)",
    ),
    Case(
        "head_renamed_alike_head_beside",
        2,
        "softmax_head",
        """
        def build_model():
            x = keras.Input((8,))
            h = T("h", layers.Dense(16, activation="relu"))(x)
            aux = T("new", layers.Dense(10, activation="softmax", name="aux"))(h)
            main = T("pred", layers.Dense(10, activation="softmax", name="main"))(h)
            return keras.Model(x, [main, aux])
        """,
        kinds=(H5, ARCHIVE),
        why="predictions renamed main, an alike head 'aux' beside it on the same features: one "
        "layer beside its original is no tower (was: predictions copied into both)",
    ),
    Case(
        "dense_block_family_grew",
        3,
        "dense_block2",
        DENSE_BLOCKS.format(blocks=3),
        kinds=(H5, TF2),
        why="DenseNet121 -> 169 in small: conv2_block3 is a new member of a grown family, though "
        "its BN reads what pool2_bn read, with its shape (was: pool2_bn restored into it)",
    ),
    Case(
        "bn_renamed_conv_bn_inserted",
        2,
        "conv_bn_named",
        """
        def build_model():
            x = keras.Input((8, 8, 3))
            h = T("c", layers.Conv2D(8, 3, use_bias=False, name="stem_conv"))(x)
            h = T("new_bn", layers.BatchNormalization())(h)
            h = T("new", layers.Conv2D(8, 1, use_bias=False))(h)
            h = T("bn", layers.BatchNormalization(name="stem_norm"))(h)
            h = layers.GlobalAveragePooling2D()(h)
            return keras.Model(x, T("out", layers.Dense(3, name="out"))(h))
        """,
        kinds=(H5, TF2),
        undecidable=(("bn", "new_bn"),),
        why="stem_bn renamed stem_norm, a BN + 1x1 conv inserted before it: two alike BNs in "
        "series, one old; no copies (was: stem_bn restored into both)",
    ),
    Case(
        "gru_inserted_between_grus",
        4,
        "seq_gru",
        """
        def build_model():
            return keras.Sequential([
                keras.Input((6, 4)),
                T("g1", layers.GRU(8, return_sequences=True)),
                T("new", layers.GRU(8, return_sequences=True)),
                T("g2", layers.GRU(8)),
                T("out", layers.Dense(3)),
            ])
        """,
        kinds=(H5,),
        why="a GRU of g2's shapes inserted before it: old gru_1 (the last, one step out) is new "
        "gru_2 (same successor, same return_sequences)",
    ),
    Case(
        "decoder_relu_inserted_encoder_kept",
        1,
        "encoder_decoder_seq",
        """
        def build_model():
            encoder = keras.Sequential([
                keras.Input((8,)),
                T("e1", layers.Dense(16, activation="relu")),
                T("e2", layers.Dense(16, activation="relu")),
            ], name="encoder")
            decoder = keras.Sequential([
                keras.Input((16,)),
                T("new", layers.Dense(16, activation="relu")),
                T("d1", layers.Dense(16, activation="relu")),
                T("d2", layers.Dense(8)),
            ], name="decoder")
            x = keras.Input((8,))
            return keras.Model(x, decoder(encoder(x)))
        """,
        kinds=(H5,),
        undecidable=(("new", "d1"),),
        why="an identical relu dense made first in the decoder: which decoder layer is new only "
        "the code says, but e2 is in the encoder on both sides (a chosen container name)",
    ),
    # -- 3. keras.applications nets -----------------------------------------------------------
    Case(
        "mobilenetv2_classes_changed",
        3,
        "mnv2_head10",
        """
        def build_model():
            base = tag_all(
                keras.applications.MobileNetV2(
                    input_shape=(32, 32, 3), alpha=0.35, include_top=False, weights=None,
                    pooling="avg",
                ),
                "mnv2",
            )
            inputs = keras.Input((32, 32, 3))
            return keras.Model(inputs, T("head5", layers.Dense(5))(base(inputs)))
        """,
        kinds=(H5,),
        why="MobileNetV2 inside a functional model, its 10-class head replaced by a 5-class one",
    ),
    Case(
        "mobilenetv2_bn_inserted_before_head",
        3,
        "mnv2_head10",
        """
        def build_model():
            base = tag_all(
                keras.applications.MobileNetV2(
                    input_shape=(32, 32, 3), alpha=0.35, include_top=False, weights=None,
                    pooling="avg",
                ),
                "mnv2",
            )
            inputs = keras.Input((32, 32, 3))
            h = T("new_bn", layers.BatchNormalization())(base(inputs))
            h = layers.Dropout(0.2)(h)
            return keras.Model(inputs, T("head", layers.Dense(10))(h))
        """,
        kinds=(H5, TF2),
        slow=True,
        why="a BN of Conv_1_bn's shape (1280) and a dropout inserted between the net and its head",
    ),
    Case(
        "resnet50_classes_changed",
        3,
        "resnet50_top10",
        """
        def build_model():
            return tag_all(
                keras.applications.ResNet50(input_shape=(32, 32, 3), weights=None, classes=5),
                "resnet50",
            )
        """,
        kinds=(H5, ARCHIVE),
        slow=True,
        why="ResNet50 with its own top: 10 classes -> 5; predictions changes shape",
    ),
    Case(
        "densenet121_include_top",
        3,
        "densenet121_notop",
        """
        def build_model():
            return tag_all(
                keras.applications.DenseNet121(
                    input_shape=(32, 32, 3), include_top=True, weights=None, classes=5
                ),
                "densenet121",
            )
        """,
        kinds=(H5,),
        slow=True,
        why="DenseNet121 include_top False -> True: avg_pool and predictions are new",
    ),
    Case(
        "efficientnetb0_wrapped_new_head",
        3,
        "effb0_pooled",
        """
        def build_model():
            base = tag_all(
                keras.applications.EfficientNetB0(
                    input_shape=(32, 32, 3), include_top=False, weights=None, pooling="avg"
                ),
                "effb0",
            )
            inputs = keras.Input((32, 32, 3))
            h = layers.Dropout(0.2)(base(inputs))
            return keras.Model(inputs, T("head", layers.Dense(7))(h))
        """,
        kinds=(H5, TF2),
        slow=True,
        why="EfficientNetB0 (its own Rescaling, Normalization) wrapped with a new head",
    ),
    Case(
        "nasnet_mobile_wrapped_new_head",
        3,
        "nasnet_mobile_pooled",
        wrapped_app("NASNetMobile", notop(32), "nasnet", 32, 5),
        kinds=(H5,),
        slow=True,
        why="NASNetMobile (many alike separable convs) wrapped with a new head",
    ),
    Case(
        "mobilenetv3small_classes_changed",
        3,
        "mnv3small_top10",
        """
        def build_model():
            return tag_all(
                keras.applications.MobileNetV3Small(
                    input_shape=(32, 32, 3), weights=None, classes=4
                ),
                "mnv3",
            )
        """,
        kinds=(H5, ARCHIVE),
        slow=True,
        why="MobileNetV3Small with its own top (a 1x1 conv 'logits'): 10 classes -> 4",
    ),
    # -- more of 1, 2, 4, 5 ------------------------------------------------------------------
    Case(
        "nested_functional_renamed_inserted",
        1,
        "nested_functional",
        """
        def build_model():
            x = keras.Input((8,))
            h = T("e1", layers.Dense(16, activation="relu"))(x)
            h = T("new", layers.Dense(16, activation="sigmoid"))(h)
            h = T("e2", layers.Dense(16, activation="relu"))(h)
            backbone = keras.Model(x, h, name="backbone")
            inputs = keras.Input((8,))
            return keras.Model(inputs, T("head", layers.Dense(3))(backbone(inputs)))
        """,
        kinds=(H5, ARCHIVE, TF2),
        why="inner model renamed encoder -> backbone, a sigmoid dense of e2's shape inserted",
    ),
    Case(
        "conv1x1_bn_block_inserted",
        2,
        "seq_conv_bn",
        """
        def build_model():
            return keras.Sequential([
                keras.Input((12, 12, 3)),
                T("c1", layers.Conv2D(8, 3, padding="same", use_bias=False)),
                T("b1", layers.BatchNormalization()),
                layers.ReLU(),
                T("new", layers.Conv2D(8, 1, use_bias=False)),
                T("new_bn", layers.BatchNormalization()),
                layers.ReLU(),
                T("c2", layers.Conv2D(8, 3, padding="same", use_bias=False)),
                T("b2", layers.BatchNormalization()),
                layers.ReLU(),
                layers.GlobalAveragePooling2D(),
                T("fc", layers.Dense(4)),
            ])
        """,
        kinds=(H5, ARCHIVE, TF2),
        why="a 1x1 conv+BN+ReLU inserted: its BN has b2's shape; each BN goes with its conv",
    ),
    Case(
        "classifier_reshaped_beside_its_twin",
        2,
        "mlp_predictions",
        """
        def build_model():
            inputs = keras.Input((8,))
            h = T("d1", layers.Dense(16, activation="relu"))(inputs)
            h = T("new", layers.Dense(10, activation="relu"))(h)
            out = T("pred", layers.Dense(10, activation="softmax", name="predictions"))(h)
            return keras.Model(inputs, out)
        """,
        why="predictions' kernel changes shape (a unit: its bias is not kept); the inserted "
        "dense_1 has exactly predictions' old shapes",
    ),
    Case(
        "named_layers_inserted",
        4,
        "named_proj",
        """
        def build_model():
            inputs = keras.Input((8,), name="x")
            h = T("proj", layers.Dense(16, activation="relu", name="proj"))(inputs)
            h = T("new", layers.Dense(16, activation="relu", name="extra"))(h)
            h = T("mid", layers.Dense(16, activation="relu", name="mid"))(h)
            return keras.Model(inputs, T("out", layers.Dense(3, name="out"))(h))
        """,
        kinds=(H5, ARCHIVE, TF2),
        why="control: layers named by hand, an identical one inserted; the names decide",
    ),
    Case(
        "tf1_convnet_into_functional_inserted",
        4,
        "tf1_convnet",
        """
        def build_model():
            images = keras.Input((12, 12, 3), name="images")
            x = T("conv1", layers.Conv2D(8, 3, padding="same", activation="relu"))(images)
            x = T("new", layers.Conv2D(8, 3, padding="same", activation="tanh"))(x)
            x = T("conv2", layers.Conv2D(8, 3, padding="same", activation="relu"))(x)
            x = layers.GlobalAveragePooling2D()(x)
            return keras.Model(images, T("logits", layers.Dense(4))(x))
        """,
        kinds=(TF1,),
        why="slim-named convs into Keras auto-names, a tanh conv of conv2's shape inserted",
    ),
    Case(
        "hidden_layer_removed",
        5,
        "relu_stack",
        """
        def build_model():
            return keras.Sequential([
                keras.Input((8,)),
                T("a", layers.Dense(16, activation="relu")),
                T("head", layers.Dense(16)),
            ])
        """,
        kinds=(H5, ARCHIVE, TF2),
        why="relu dense_1 removed: the linear head is now dense_1, of the removed layer's shape",
    ),
    Case(
        "nested_seq_into_sequential_conv_inserted",
        1,
        "nested_seq",
        """
        def build_model():
            backbone = keras.Sequential([
                keras.Input((12, 12, 3)),
                T("c1", layers.Conv2D(8, 3, padding="same", activation="relu")),
                T("new", layers.Conv2D(8, 3, padding="same", activation="tanh")),
                T("c2", layers.Conv2D(8, 3, padding="same", activation="relu")),
                layers.GlobalAveragePooling2D(),
            ])
            return keras.Sequential([keras.Input((12, 12, 3)), backbone, T("fc", layers.Dense(4))])
        """,
        why="the functional container becomes a Sequential; a tanh conv of c2's shape inserted",
    ),
    Case(
        "subclassed_block_inserted_in_list",
        4,
        "subclassed_blocks",
        """
        class Net(keras.Model):
            def __init__(self):
                super().__init__()
                self.blocks = [T(f"b{i}", layers.Dense(16, activation="relu")) for i in range(3)]
                self.blocks.insert(1, T("new", layers.Dense(16, activation="tanh")))
                self.head = T("head", layers.Dense(4))

            def call(self, x):
                for block in self.blocks:
                    x = block(x)
                return self.head(x)


        def input_signature():
            return [tf.TensorSpec([None, 16], tf.float32)]


        def build_model():
            model = Net()
            model(tf.zeros([1, 16]))
            return model
        """,
        kinds=(H5,),  # tf.train.Checkpoint does not save a Keras 3 model's lists of layers
        why="a tanh block inserted at blocks[1] (made last: dense_3); h5 paths shift by one",
    ),
    Case(
        "lstm_dense_inserted",
        4,
        "lstm_text",
        """
        def build_model():
            tokens = keras.Input((6,), dtype="int32")
            h = T("emb", layers.Embedding(50, 8))(tokens)
            h = T("lstm", layers.LSTM(8))(h)
            h = T("new", layers.Dense(8, activation="tanh"))(h)
            return keras.Model(tokens, T("head", layers.Dense(4))(h))
        """,
        why="an LSTM (a cell inside, a while loop traced) and a dense inserted before the head",
    ),
    Case(
        "separable_conv_inserted",
        2,
        "separable_cnn",
        """
        def build_model():
            return keras.Sequential([
                keras.Input((12, 12, 3)),
                T("c1", layers.Conv2D(8, 3, padding="same", activation="relu")),
                T("new", layers.SeparableConv2D(8, 3, padding="same", activation="tanh")),
                T("s1", layers.SeparableConv2D(8, 3, padding="same", activation="relu")),
                layers.GlobalAveragePooling2D(),
                T("fc", layers.Dense(4)),
            ])
        """,
        why="three-variable layers (depthwise, pointwise, bias): a tanh one of s1's shapes",
    ),
    Case(
        "new_sigmoid_head_beside",
        4,
        "one_head",
        """
        def build_model():
            inputs = keras.Input((8,))
            h = T("trunk", layers.Dense(16, activation="relu"))(inputs)
            aux = T("aux", layers.Dense(4, activation="sigmoid"))(h)
            return keras.Model(inputs, [T("head", layers.Dense(4))(h), aux])
        """,
        why="a sigmoid head of the old head's shape made before it: dense_1 is the new one",
    ),
    Case(
        "tf1_layers_names_into_keras_inserted",
        1,
        "tf1_layers_mlp",
        """
        def build_model():
            inputs = keras.Input((16,))
            h = T("d0", layers.Dense(16, activation="relu"))(inputs)
            h = T("new", layers.Dense(16, activation="tanh"))(h)
            h = T("d1", layers.Dense(16, activation="relu"))(h)
            return keras.Model(inputs, T("head", layers.Dense(4))(h))
        """,
        kinds=(TF1,),
        why="a TF1 graph named as tf.layers names (dense, dense_1: positions too) into Keras "
        "with a tanh dense inserted: old dense_1 is new dense_2",
    ),
    Case(
        "inceptionv3_stem_conv_made_first",
        3,
        "inceptionv3_head10",
        wrapped_app(
            "InceptionV3", notop(75), "inception", 75, 10, 'layers.Conv2D(3, 1, padding="same")'
        ),
        kinds=(H5, ARCHIVE),
        slow=True,
        why="InceptionV3 names its convs and BNs by count (conv2d_93): a conv made before it "
        "shifts all 188 of them by one",
    ),
    Case(
        "seq_built_by_shape_dense_inserted",
        1,
        "seq_built_by_shape",
        """
        def build_model():
            return keras.Sequential([
                keras.Input((16,)),
                T("a", layers.Dense(16, activation="relu")),
                T("new", layers.Dense(16, activation="elu")),
                T("b", layers.Dense(16, activation="relu")),
                T("head", layers.Dense(3)),
            ])
        """,
        kinds=(H5, ARCHIVE, TF2),
        why="old Sequential built by build(shape), new one from an Input; an elu dense of b's "
        "shape inserted before b",
    ),
    Case(
        "parallel_branches_names_shifted",
        1,
        "branches",
        """
        def build_model():
            stem = T("new", layers.Conv2D(3, 1))
            inputs = keras.Input((12, 12, 3))
            x = T("c0", layers.Conv2D(8, 3, padding="same", activation="relu"))(stem(inputs))
            b1 = T("b1", layers.Conv2D(8, 1, activation="relu"))(x)
            b2 = T("b2", layers.Conv2D(8, 1, activation="relu"))(x)
            x = layers.GlobalAveragePooling2D()(layers.Concatenate()([b1, b2]))
            return keras.Model(inputs, T("fc", layers.Dense(4))(x))
        """,
        why="InceptionV3's trap, small: a conv made first shifts every name by one; two alike "
        "branches differ only in their place in the concat (new conv2d_2 is old conv2d_1)",
    ),
    # -- held out from the matcher's first round: other layer kinds, other shapes of change --
    Case(
        "activation_layers_dense_inserted",
        4,
        "seq_act_layers",
        """
        def build_model():
            return keras.Sequential([
                keras.Input((8,)),
                T("d0", layers.Dense(16)),
                layers.ReLU(),
                T("new", layers.Dense(16)),
                layers.Activation("tanh"),
                T("d1", layers.Dense(16)),
                layers.ReLU(),
                T("head", layers.Dense(3)),
            ])
        """,
        why="activations as layers of their own: a dense of d1's shape followed by tanh "
        "inserted; old dense_1 (followed by ReLU) is new dense_2",
    ),
    Case(
        "prelu_block_inserted",
        2,
        "prelu_mlp",
        """
        def build_model():
            inputs = keras.Input((8,))
            h = T("d1", layers.Dense(16))(inputs)
            h = T("p1", layers.PReLU())(h)
            h = T("new", layers.Dense(16))(h)
            h = T("new_act", layers.LeakyReLU())(h)
            h = T("d2", layers.Dense(16))(h)
            h = T("p2", layers.PReLU())(h)
            return keras.Model(inputs, T("head", layers.Dense(3))(h))
        """,
        why="PReLU's alpha has a dense bias's shape [16]; a dense + LeakyReLU inserted: old "
        "dense_1 is new dense_2, each PReLU keeps its alpha",
    ),
    Case(
        "residual_block_inserted",
        1,
        "resnet_tiny",
        """
        def build_model():
            inputs = keras.Input((12, 12, 3))
            x = T("stem", layers.Conv2D(8, 3, padding="same", activation="relu"))(inputs)
            y = T("n1", layers.Conv2D(8, 3, padding="same", activation="elu"))(x)
            y = T("n2", layers.Conv2D(8, 3, padding="same"))(y)
            x = layers.ELU()(layers.Add()([x, y]))
            y = T("r1", layers.Conv2D(8, 3, padding="same", activation="relu"))(x)
            y = T("r2", layers.Conv2D(8, 3, padding="same"))(y)
            x = layers.ReLU()(layers.Add()([x, y]))
            x = layers.GlobalAveragePooling2D()(x)
            return keras.Model(inputs, T("fc", layers.Dense(4))(x))
        """,
        why="a residual block of elu convs (the old block's shapes) inserted before the old one: "
        "old conv2d_1, conv2d_2 are new conv2d_3, conv2d_4",
    ),
    Case(
        "bilstm_dense_inserted",
        4,
        "bilstm",
        """
        def build_model():
            tokens = keras.Input((6,), dtype="int32")
            h = T("emb", layers.Embedding(40, 8))(tokens)
            h = T("bi", layers.Bidirectional(layers.LSTM(8)))(h)
            h = T("new", layers.Dense(16, activation="tanh"))(h)
            return keras.Model(tokens, T("head", layers.Dense(4))(h))
        """,
        why="a Bidirectional LSTM (two nested cells of one shape) and a dense inserted after it",
    ),
    Case(
        "layernorm_block_inserted",
        2,
        "ln_mlp",
        """
        def build_model():
            inputs = keras.Input((16,))
            h = T("d1", layers.Dense(16, activation="gelu"))(inputs)
            h = T("n1", layers.LayerNormalization())(h)
            h = T("new", layers.Dense(16, activation="silu"))(h)
            h = T("new_ln", layers.LayerNormalization())(h)
            h = T("d2", layers.Dense(16, activation="gelu"))(h)
            h = T("n2", layers.LayerNormalization())(h)
            return keras.Model(inputs, T("head", layers.Dense(3))(h))
        """,
        why="LayerNorms (gamma, beta of a bias's shape) beside a silu dense + LN inserted",
    ),
    Case(
        "every_name_shifted_chain",
        1,
        "relu_chain",
        """
        def build_model():
            inputs = keras.Input((8,))
            h = T("new", layers.Dense(8, activation="tanh"))(inputs)
            h = T("d0", layers.Dense(16, activation="relu"))(h)
            h = T("d1", layers.Dense(16, activation="relu"))(h)
            h = T("d2", layers.Dense(16, activation="relu"))(h)
            return keras.Model(inputs, T("head", layers.Dense(3))(h))
        """,
        why="a dense made first shifts every name; d1 and d2 are alike but placed by the chain "
        "after d0 (unique shape): old dense_1 is new dense_2",
    ),
    # -- round 2, held out from the matcher's tuning ------------------------------------------
    Case(
        "seq_cnn_pool_dense_inserted",
        1,
        "seq_cnn_pool",
        """
        def build_model():
            return keras.Sequential([
                keras.Input((16, 16, 3)),
                T("c1", layers.Conv2D(8, 3, activation="relu")),
                layers.MaxPooling2D(),
                T("c2", layers.Conv2D(16, 3, activation="relu")),
                layers.MaxPooling2D(),
                layers.Flatten(),
                T("d1", layers.Dense(32, activation="relu")),
                T("new", layers.Dense(32, activation="tanh")),
                layers.Dropout(0.5),
                T("out", layers.Dense(10)),
            ])
        """,
        kinds=(H5, ARCHIVE, ARCHIVE_PY, TF2),
        why="a tanh dense and a dropout before the classifier: old dense_1 is new dense_2",
    ),
    Case(
        "seq_cnn_pool_conv_inserted",
        2,
        "seq_cnn_pool",
        """
        def build_model():
            return keras.Sequential([
                keras.Input((16, 16, 3)),
                T("c1", layers.Conv2D(8, 3, activation="relu")),
                layers.MaxPooling2D(),
                T("c2", layers.Conv2D(16, 3, activation="relu")),
                T("new", layers.Conv2D(16, 3, padding="same", activation="relu")),
                layers.MaxPooling2D(),
                layers.Flatten(),
                T("d1", layers.Dense(32, activation="relu")),
                T("out", layers.Dense(10)),
            ])
        """,
        why="a 16 -> 16 conv inserted after c2 (8 -> 16): every later name shifts by one",
    ),
    Case(
        "seq_cnn_pool_identical_conv_inserted",
        1,
        "seq_cnn_pool",
        """
        def build_model():
            return keras.Sequential([
                keras.Input((16, 16, 3)),
                T("c1", layers.Conv2D(8, 3, activation="relu")),
                layers.MaxPooling2D(),
                T("new", layers.Conv2D(8, 3, padding="same", activation="relu")),
                T("c2", layers.Conv2D(16, 3, activation="relu")),
                layers.MaxPooling2D(),
                layers.Flatten(),
                T("d1", layers.Dense(32, activation="relu")),
                T("out", layers.Dense(10)),
            ])
        """,
        kinds=(H5, TF2),
        why="an 8 -> 8 relu conv after the pool: no old layer has its shape; c2 and the "
        "denses keep theirs under shifted names",
    ),
    Case(
        "subclassed_res_block_added",
        4,
        "subclassed_res_blocks",
        SUBCLASSED_BLOCKS.format(blocks='Block("b0"), Block("new", "gelu"), Block("b1")'),
        kinds=(H5,),  # tf.train.Checkpoint does not save a Keras 3 model's lists of layers
        why="a gelu residual block (the relu blocks' shapes) inserted between the two; every "
        "counted name after it shifts",
    ),
    Case(
        "subclassed_identical_block_appended",
        4,
        "subclassed_res_blocks",
        SUBCLASSED_BLOCKS.format(blocks='Block("b0"), Block("b1"), Block("new")'),
        kinds=(H5,),
        undecidable=IDENTICAL_BLOCKS,
        why="a third identical block appended: the graph fits the new block before, between "
        "or after the old ones; which it is only the code says (here: the names' order)",
    ),
    Case(
        "subclassed_identical_block_inserted",
        4,
        "subclassed_res_blocks",
        SUBCLASSED_BLOCKS.format(blocks='Block("b0"), Block("new"), Block("b1")'),
        kinds=(H5,),
        undecidable=IDENTICAL_BLOCKS,
        why="an identical block inserted between the two: block_1 is the new one, and the "
        "names say it is old block_1; the graph fits the new block at any of three places",
    ),
    Case(
        "tf1_slim_bn_cnn_into_keras_inserted",
        4,
        "tf1_slim_bn_cnn",
        keras_bn_cnn(
            (
                ("conv1", "bn1", 8, 1),
                ("conv2", "bn2", 16, 1),
                ("new", "new_bn", 16, 1),
                ("conv3", "bn3", 16, 2),
            )
        ),
        kinds=(TF1,),
        why="tf_slim convs and batch norms (a training graph) into Keras auto-names, a conv + "
        "BN of conv3's shapes but stride 1 inserted before it",
    ),
    Case(
        "tf1_slim_bn_cnn_into_keras_identical_appended",
        4,
        "tf1_slim_bn_cnn",
        keras_bn_cnn(
            (
                ("conv1", "bn1", 8, 1),
                ("conv2", "bn2", 16, 1),
                ("conv3", "bn3", 16, 2),
                ("new", "new_bn", 16, 2),
            )
        ),
        kinds=(TF1,),
        undecidable=(("conv3", "new"), ("bn3", "new_bn")),
        why="a conv + BN identical to conv3's appended after it: the walk from the inputs "
        "says the first, the one from the outputs the second; only the code knows",
    ),
    Case(
        "named_chain_renamed_adapter_inserted",
        4,
        "named_chain",
        """
        def build_model():
            inputs = keras.Input((16,))
            h = inputs
            for i in range(4):
                h = T(f"fc{i}", layers.Dense(16, activation="relu", name=f"layer_{i}_fc"))(h)
                h = T(f"ln{i}", layers.LayerNormalization(name=f"layer_{i}_ln"))(h)
                if i == 1:
                    h = T("new", layers.Dense(16, activation="relu", name="adapter_fc"))(h)
                    h = T("new_ln", layers.LayerNormalization(name="adapter_ln"))(h)
            return keras.Model(inputs, T("head", layers.Dense(3, name="head"))(h))
        """,
        why="named blocks enc_i -> layer_i, an identical adapter block inserted after layer_1: "
        "the renamed names say which is which",
    ),
    Case(
        "named_net_wrapped_normalization_made_first",
        1,
        "named_net_normalized",
        """
        def build_model():
            stem = T("new", layers.Normalization())
            inner = keras.Input((8,))
            h = T("norm", layers.Normalization())(inner)
            h = T("a", layers.Dense(16, activation="relu", name="hidden"))(h)
            net = keras.Model(inner, T("head", layers.Dense(4, name="logits"))(h), name="net")
            inputs = keras.Input((8,))
            return keras.Model(inputs, T("task", layers.Dense(2, name="task"))(net(stem(inputs))))
        """,
        why="a net with an unnamed Normalization (no op reads its mean and variance: Keras "
        "computes with constants made from them) wrapped in a model with a Normalization of its "
        "shapes made first: old 'normalization' is new 'normalization_1', the one Normalization "
        "in 'net', where the old net's named layers went",
    ),
    Case(
        "named_net_normalization_made_first",
        1,
        "named_net_normalized",
        """
        def build_model():
            stem = T("new", layers.Normalization())
            inputs = keras.Input((8,))
            h = T("norm", layers.Normalization())(stem(inputs))
            h = T("a", layers.Dense(16, activation="relu", name="hidden"))(h)
            return keras.Model(inputs, T("head", layers.Dense(4, name="logits"))(h), name="net")
        """,
        undecidable=(("norm", "new"),),
        why="the same Normalization made first in the net itself: the two Normalization "
        "layers are in one model, no op reads either, their names only count: which one is "
        "old only the code says",
    ),
    Case(
        "named_chain_suffix_renamed_adapter_inserted",
        4,
        "named_chain_suffix",
        """
        def build_model():
            inputs = keras.Input((16,))
            h = inputs
            for i in range(4):
                if i == 2:
                    h = T("new", layers.Dense(16, activation="relu", name="adapter_fc_dec"))(h)
                    h = T("new_ln", layers.LayerNormalization(name="adapter_ln_dec"))(h)
                h = T(f"fc{i}", layers.Dense(16, activation="relu", name=f"block{i}_fc_dec"))(h)
                h = T(f"ln{i}", layers.LayerNormalization(name=f"block{i}_ln_dec"))(h)
            return keras.Model(inputs, T("head", layers.Dense(3, name="head"))(h))
        """,
        why="a word renamed at the end of every block's names (block{i}_fc_enc -> "
        "block{i}_fc_dec), an identical adapter block inserted before block2: the word "
        "rename explains every block",
    ),
    Case(
        "named_chain_renamed_renumbered_block_first",
        5,
        "named_chain",
        """
        def build_model():
            inputs = keras.Input((16,))
            h = inputs
            tags = [("new", "new_ln")] + [(f"fc{i}", f"ln{i}") for i in range(4)]
            for i, (fc, ln) in enumerate(tags):
                h = T(fc, layers.Dense(16, activation="relu", name=f"layer_{i}_fc"))(h)
                h = T(ln, layers.LayerNormalization(name=f"layer_{i}_ln"))(h)
            return keras.Model(inputs, T("head", layers.Dense(3, name="head"))(h))
        """,
        undecidable=(
            ("new", "fc0", "fc1", "fc2", "fc3"),
            ("new_ln", "ln0", "ln1", "ln2", "ln3"),
        ),
        why="enc_i -> layer_i by a loop's numbers, an identical block made first: enc* -> "
        "layer* would give old enc_0 to the new layer_0. Four enc_#_fc, five layer_#_fc: a "
        "numbered family grew, its numbers are places, and the word rename is no witness",
    ),
    Case(
        "subclassed_encoder_renamed_adapter_inserted",
        4,
        "subclassed_encoder",
        SUBCLASSED_ENCODER.format(blocks=encoder_blocks("Block", 4, 2), scope="model"),
        kinds=(H5,),
        why="encoder/layer_i -> model/layer_i, an identical adapter block inserted after "
        "layer_1: the rename explains every block",
    ),
    Case(
        "subclassed_encoder_renamed_gelu_adapter_first",
        4,
        "subclassed_encoder",
        SUBCLASSED_ENCODER.format(blocks=encoder_blocks("Block", 4, 0, "gelu"), scope="model"),
        kinds=(TF2,),
        why="encoder -> model, a gelu adapter block made first",
    ),
    Case(
        "sequential_encoder_renamed_adapter_inserted",
        4,
        "sequential_encoder",
        SEQUENTIAL_ENCODER.format(blocks=encoder_blocks("block", 4, 2), scope="model"),
        kinds=(H5, TF2),
        why="blocks named by hand (layer_i) of layers with counted names (dense_2 is new "
        "dense_3 after the adapter), encoder -> model, an identical adapter inserted: the "
        "block names say which is which",
    ),
    Case(
        "sequential_encoder_adapter_inserted_from_archive",
        4,
        "sequential_encoder",
        SEQUENTIAL_ENCODER.format(blocks=encoder_blocks("block", 4, 2), scope="encoder"),
        kinds=(ARCHIVE,),
        undecidable=tuple(
            tuple(f"{b}_{x}" for b in ("b0", "b1", "b2", "b3", "new")) for x in ("fc", "ln")
        ),
        why="the same from a .keras archive, whose rebuilt model names its layers without "
        "their blocks (dense, dense_1, ...): an identical adapter among identical blocks",
    ),
    Case(
        "sequential_encoder_gelu_adapter_inserted",
        4,
        "sequential_encoder",
        SEQUENTIAL_ENCODER.format(blocks=encoder_blocks("block", 4, 2, "gelu"), scope="encoder"),
        kinds=(ARCHIVE,),
        why="a gelu adapter block among relu ones, from a .keras archive (no block names)",
    ),
    Case(
        "seq_plain_cnn_bn_after_each_conv",
        2,
        "seq_plain_cnn",
        """
        def build_model():
            return keras.Sequential([
                keras.Input((16, 16, 3)),
                T("c1", layers.Conv2D(16, 3, activation="relu")),
                T("n1", layers.BatchNormalization()),
                T("c2", layers.Conv2D(16, 3, activation="relu")),
                T("n2", layers.BatchNormalization()),
                layers.Flatten(),
                T("d1", layers.Dense(32, activation="relu")),
                layers.Dropout(0.5),
                T("out", layers.Dense(10, activation="softmax")),
            ])
        """,
        kinds=(H5, ARCHIVE, TF2),
        why="a BatchNormalization after each conv and a dropout: every old layer keeps "
        "its place under its own name",
    ),
    Case(
        "seq_plain_cnn_identical_conv_inserted",
        1,
        "seq_plain_cnn",
        """
        def build_model():
            return keras.Sequential([
                keras.Input((16, 16, 3)),
                T("c1", layers.Conv2D(16, 3, activation="relu")),
                T("new", layers.Conv2D(16, 3, padding="same", activation="relu")),
                T("c2", layers.Conv2D(16, 3, activation="relu")),
                layers.Flatten(),
                T("d1", layers.Dense(32, activation="relu")),
                T("out", layers.Dense(10, activation="softmax")),
            ])
        """,
        kinds=(H5, ARCHIVE, TF2),
        undecidable=(("new", "c2"),),
        why="a 16 -> 16 relu conv inserted before c2 (16 -> 16 relu): alike but for its "
        "padding, which is no signature; which is new only the code says",
    ),
    Case(
        "seq_plain_cnn_dense_inserted_same",
        1,
        "seq_plain_cnn",
        """
        def build_model():
            return keras.Sequential([
                keras.Input((16, 16, 3)),
                T("c1", layers.Conv2D(16, 3, activation="relu")),
                T("c2", layers.Conv2D(16, 3, activation="relu")),
                layers.Flatten(),
                T("d1", layers.Dense(32, activation="relu")),
                T("new", layers.Dense(32, activation="relu")),
                T("out", layers.Dense(10, activation="softmax")),
            ])
        """,
        kinds=(H5, ARCHIVE, TF2),
        why="a relu dense 32 -> 32 inserted after d1 (flat -> 32): out keeps its shape "
        "and becomes dense_2",
    ),
    Case(
        "seq_mlp3_identical_dense_inserted",
        1,
        "seq_mlp3",
        """
        def build_model():
            return keras.Sequential([
                keras.Input((20,)),
                T("d1", layers.Dense(32, activation="relu")),
                T("d2", layers.Dense(32, activation="relu")),
                T("new", layers.Dense(32, activation="relu")),
                T("out", layers.Dense(5)),
            ])
        """,
        kinds=(H5, ARCHIVE, TF2),
        undecidable=(("d2", "new"),),
        why="an identical relu dense after d2: which of the two is new only the code says",
    ),
    Case(
        "tf1_mlp3_into_keras_identical_inserted",
        1,
        "tf1_layers_mlp3",
        """
        def build_model():
            inputs = keras.Input((20,))
            h = T("d1", layers.Dense(32, activation="relu"))(inputs)
            h = T("d2", layers.Dense(32, activation="relu"))(h)
            h = T("new", layers.Dense(32, activation="relu"))(h)
            return keras.Model(inputs, T("out", layers.Dense(5))(h))
        """,
        kinds=(TF1,),
        undecidable=(("d2", "new"),),
        why="tf.layers names (counted too) into Keras with an identical dense inserted",
    ),
    Case(
        "text_cnn_conv_inserted",
        2,
        "text_cnn",
        """
        def build_model():
            tokens = keras.Input((20,), dtype="int32")
            h = T("emb", layers.Embedding(100, 16))(tokens)
            h = T("c1", layers.Conv1D(16, 3, padding="same", activation="relu"))(h)
            h = T("new", layers.Conv1D(16, 3, padding="same", activation="relu"))(h)
            h = T("c2", layers.Conv1D(16, 3, strides=2, padding="same", activation="relu"))(h)
            h = layers.GlobalMaxPooling1D()(h)
            return keras.Model(tokens, T("out", layers.Dense(4))(h))
        """,
        kinds=(H5, ARCHIVE, TF2),
        undecidable=(("c1", "new"),),
        why="a Conv1D identical to c1 inserted after it; c2 (stride 2) is told apart by its stride",
    ),
    Case(
        "autoencoder_layer_inserted",
        2,
        "autoencoder",
        """
        UP = dict(strides=2, padding="same", activation="relu")


        def build_model():
            x = keras.Input((16, 16, 1))
            h = T("e1", layers.Conv2D(8, 3, strides=2, padding="same", activation="relu"))(x)
            h = T("e2", layers.Conv2D(8, 3, strides=2, padding="same", activation="relu"))(h)
            h = T("new", layers.Conv2D(8, 3, padding="same", activation="relu"))(h)
            h = T("d1", layers.Conv2DTranspose(8, 3, **UP))(h)
            h = T("d2", layers.Conv2DTranspose(8, 3, **UP))(h)
            return keras.Model(x, T("out", layers.Conv2D(1, 3, padding="same"))(h))
        """,
        kinds=(H5, ARCHIVE, TF2),
        why="a stride-1 conv of e2's shape at the bottleneck of a conv autoencoder, "
        "transposed convs after it",
    ),
    Case(
        "branches_third_branch_added",
        5,
        "branches3",
        """
        def build_model():
            inputs = keras.Input((12, 12, 3))
            x = T("c0", layers.Conv2D(8, 3, padding="same", activation="relu"))(inputs)
            b1 = T("b1", layers.Conv2D(8, 1, activation="relu"))(x)
            b2 = T("b2", layers.Conv2D(8, 3, padding="same", activation="relu"))(x)
            b3 = T("new", layers.Conv2D(8, 1, activation="relu"))(x)
            x = layers.GlobalAveragePooling2D()(layers.Concatenate()([b1, b3, b2]))
            return keras.Model(inputs, T("fc2", layers.Dense(4))(x))
        """,
        kinds=(H5, ARCHIVE, TF2),
        undecidable=(("b1", "new"),),
        why="a third 1x1 branch alike to b1 between b1 and b2 in the concat (fc grows): "
        "which 1x1 branch is new only the code says",
    ),
    Case(
        "sequential_encoder_numbered_family_grew",
        5,
        "sequential_encoder",
        SEQUENTIAL_ENCODER.format(blocks=numbered_blocks("block", 4, 4), scope="encoder"),
        kinds=(H5, TF2),
        why="blocks named by a loop's counter (layer_i) and one more identical block, layer_4: "
        "names the user chose are identities (as tf_slim's resnet block1 grown by a unit, "
        "tests/corpus resnet50_moved_extra_unit); a block inserted among them with the rest "
        "renumbered makes this same graph, so these pairs are marked thin",
    ),
    Case(
        "subclassed_encoder_numbered_family_grew",
        5,
        "subclassed_encoder",
        SUBCLASSED_ENCODER.format(blocks=numbered_blocks("Block", 4, 4), scope="model"),
        kinds=(H5,),
        why="the same in a subclassed model, encoder renamed model",
    ),
    Case(
        "sequential_encoder_renumbered_gelu_inserted",
        5,
        "sequential_encoder",
        SEQUENTIAL_ENCODER.format(blocks=numbered_blocks("block", 4, 2, "gelu"), scope="model"),
        kinds=(H5, TF2),
        why="a gelu block inserted at 2 among relu blocks named by a loop's counter, the rest "
        "renumbered, encoder renamed model: names and graph disagree cleanly (old layer_2 is "
        "new layer_3), the graph wins",
    ),
    Case(
        "subclassed_encoder_renumbered_gelu_inserted",
        5,
        "subclassed_encoder",
        SUBCLASSED_ENCODER.format(blocks=numbered_blocks("Block", 4, 1, "gelu"), scope="encoder"),
        kinds=(H5,),
        why="the same in a subclassed model of residual blocks (ln(x + fc(x))), inserted at 1: "
        "the walk from the inputs must not go round the gelu block through the residual sum",
    ),
    Case(
        "subclassed_encoder_renamed_renumbered_tanh_inserted",
        5,
        "subclassed_encoder",
        SUBCLASSED_ENCODER.format(blocks=numbered_blocks("Block", 4, 2, "tanh"), scope="model"),
        kinds=(H5,),
        why="the same with a tanh block inserted at 2, and encoder renamed model: the rename "
        "encoder/ -> model/ (seen on every block) would give old layer_2 to the tanh block; the "
        "graph refuses that and places the blocks after it one later",
    ),
    Case(
        "relu_chain_middle_removed",
        5,
        "relu_chain4",
        """
        def build_model():
            return keras.Sequential([
                keras.Input((8,)),
                T("d0", layers.Dense(16, activation="relu")),
                T("d1", layers.Dense(16, activation="relu")),
                T("d3", layers.Dense(16, activation="relu")),
                T("head", layers.Dense(3)),
            ])
        """,
        kinds=(H5, ARCHIVE),
        undecidable=(("d1", "d2", "d3"),),
        why="one of three identical relu layers after d0 removed: which, only the code says",
    ),
    Case(
        "conv_chain_identical_removed",
        5,
        "conv_chain",
        """
        def build_model():
            return keras.Sequential([
                keras.Input((12, 12, 3)),
                T("c0", layers.Conv2D(8, 3, padding="same", activation="relu")),
                T("c1", layers.Conv2D(8, 3, padding="same", activation="relu")),
                T("c3", layers.Conv2D(8, 3, padding="same", activation="tanh")),
                layers.GlobalAveragePooling2D(),
                T("head", layers.Dense(3)),
            ])
        """,
        kinds=(TF2,),
        undecidable=(("c1", "c2"),),
        why="one of c1, c2 (identical, after c0 which differs by its input) removed; the tanh "
        "c3 keeps its own",
    ),
    Case(
        "tf1_slim_head_replaced",
        2,
        "tf1_slim_bn_cnn",
        keras_bn_cnn(
            (("conv1", "bn1", 8, 1), ("conv2", "bn2", 16, 1), ("conv3", "bn3", 16, 2)),
            head='x = T("new", layers.Dense(16, activation="relu"))(x)\n'
            '    return keras.Model(images, T("new_logits", layers.Dense(7))(x))',
        ),
        kinds=(TF1,),
        why="tf_slim CNN into Keras with a hidden relu dense and a 7-class head after the pool",
    ),
    Case(
        "tf1_slim_conv_prepended",
        2,
        "tf1_slim_bn_cnn",
        keras_bn_cnn(
            (
                ("new", "new_bn", 3, 1),
                ("conv1", "bn1", 8, 1),
                ("conv2", "bn2", 16, 1),
                ("conv3", "bn3", 16, 2),
            )
        ),
        kinds=(TF1,),
        why="tf_slim CNN into Keras with a 3 -> 3 conv + BN made first: every name shifts",
    ),
    Case(
        "xception_stem_conv_made_first",
        3,
        "xception_head10",
        wrapped_app(
            "Xception", notop(71), "xception", 71, 10, 'layers.Conv2D(3, 1, padding="same")'
        ),
        kinds=(H5, ARCHIVE),
        slow=True,
        why="Xception's shortcut convs and their batch norms have counted names: a conv made "
        "first shifts them by one",
    ),
    Case(
        "inception_resnet_v2_stem_conv_made_first",
        3,
        "inception_resnet_v2_head10",
        wrapped_app(
            "InceptionResNetV2", notop(75), "irv2", 75, 10, 'layers.Conv2D(3, 1, padding="same")'
        ),
        kinds=(H5,),
        slow=True,
        why="406 counted names in the parallel branches of 40 alike residual blocks (block35, "
        "block17, block8), all shifted by one",
    ),
    Case(
        "efficientnetb0_normalization_made_first",
        3,
        "effb0_pooled",
        wrapped_app("EfficientNetB0", notop(32), "effb0", 32, 7, "layers.Normalization()"),
        kinds=(H5, ARCHIVE, TF2),
        slow=True,
        why="a Normalization of the net's own shapes made first (old 'normalization' is new "
        "'normalization_1'), the net wrapped with a head",
    ),
    Case(
        "resnet50v2_top_to_wrapped_new_head",
        3,
        "resnet50v2_top10",
        """
        def build_model():
            base = tag_all(
                keras.applications.ResNet50V2(
                    input_shape=(32, 32, 3), include_top=False, weights=None, pooling="avg"
                ),
                "resnet50v2",
            )
            inputs = keras.Input((32, 32, 3))
            h = layers.Dropout(0.3)(base(inputs))
            return keras.Model(inputs, T("head", layers.Dense(7))(h))
        """,
        kinds=(H5, ARCHIVE, TF2),
        slow=True,
        why="ResNet50V2 with its own top, then wrapped without it under a 7-class head",
    ),
    Case(
        "mobilenet_stem_conv_wrapped_new_head",
        3,
        "mobilenet_top10",
        """
        def build_model():
            stem = T("new", layers.Conv2D(3, 3, padding="same", activation="relu"))
            base = tag_all(
                keras.applications.MobileNet(
                    input_shape=(32, 32, 3), alpha=0.25, include_top=False, weights=None,
                    pooling="avg",
                ),
                "mobilenet",
            )
            inputs = keras.Input((32, 32, 3))
            return keras.Model(inputs, T("head", layers.Dense(5))(base(stem(inputs))))
        """,
        kinds=(H5, ARCHIVE, TF2),
        slow=True,
        why="MobileNet (v1) with its top, then a 3x3 conv before it, wrapped, a 5-class head",
    ),
    Case(
        "convnext_tiny_layernorm_made_first",
        3,
        "convnext_tiny_head10",
        wrapped_app("ConvNeXtTiny", notop(32), "cnx", 32, 10, "layers.LayerNormalization()"),
        kinds=(H5,),
        slow=True,
        why="ConvNeXtTiny's one counted name (layer_normalization) shifted by a LayerNorm made "
        "first, of another shape",
    ),
    Case(
        "nasnet_mobile_stem_conv_made_first",
        3,
        "nasnet_mobile_head10",
        wrapped_app(
            "NASNetMobile", notop(32), "nas", 32, 10, 'layers.Conv2D(3, 1, padding="same")'
        ),
        kinds=(TF2,),
        slow=True,
        why="NASNetMobile (many alike separable convs) with a conv made first, TF2 checkpoint",
    ),
    Case(
        "mobilenetv3small_stem_conv_new_head",
        3,
        "mnv3small_head10",
        wrapped_app(
            "MobileNetV3Small",
            notop(32),
            "mnv3s",
            32,
            4,
            'layers.Conv2D(3, 3, padding="same", activation="relu")',
        ),
        kinds=(H5, ARCHIVE, TF2),
        slow=True,
        why="MobileNetV3Small wrapped: a relu conv made first, a 4-class head",
    ),
    Case(
        "efficientnetv2b0_top_to_wrapped",
        3,
        "efficientnetv2b0_top10",
        wrapped_app("EfficientNetV2B0", notop(32), "effv2", 32, 3),
        kinds=(H5, TF2),
        slow=True,
        why="EfficientNetV2B0 with its own top, then wrapped without it under a 3-class head",
    ),
    Case(
        "inceptionv3_top_to_wrapped_stem",
        3,
        "inceptionv3_top10",
        wrapped_app("InceptionV3", notop(75), "iv3", 75, 6, 'layers.Conv2D(3, 1, padding="same")'),
        kinds=(TF2,),
        slow=True,
        why="InceptionV3 with its softmax top, then wrapped under a 6-class head with a conv "
        "made first: no head and no input pairs, and 188 counted names shift",
    ),
    Case(
        "xception_top_to_wrapped_stem",
        3,
        "xception_top10",
        wrapped_app("Xception", notop(71), "xc", 71, 5, 'layers.Conv2D(3, 1, padding="same")'),
        kinds=(H5, ARCHIVE),
        slow=True,
        why="Xception with its top, then wrapped under a 5-class head with a conv made first",
    ),
    Case(
        "inception_resnet_v2_top_to_wrapped_stem",
        3,
        "inception_resnet_v2_top10",
        wrapped_app(
            "InceptionResNetV2", notop(75), "irv2", 75, 5, 'layers.Conv2D(3, 1, padding="same")'
        ),
        kinds=(H5,),
        slow=True,
        why="InceptionResNetV2 with its top, then wrapped under a 5-class head with a conv made "
        "first: 406 counted names shift and neither end pairs",
    ),
)

CASE_NAMES = tuple(case.name for case in CASES)


def runs(cases=CASES, slow: bool = True):
    """(case, kind) for every run of `cases`; without the slow cases when slow is False."""
    return [(c, kind) for c in cases if slow or not c.slow for kind in c.kinds]
