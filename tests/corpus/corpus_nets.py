"""Building blocks of the corpus graphs: slim nets, small hand-written nets, Adam, while loops.

Every old and new graph source of the corpus (see cases.py) imports this module as
`corpus_nets`; the harness copies it beside each source, as a user's `model.py` sits beside
their `new_graph.py`. Nothing here flips a process-wide TensorFlow switch for good: variable
kinds are chosen per scope (`variables(resource=...)`) and v1 control flow is switched on only
for the duration of one loop, because the whole corpus runs in the pytest process.
"""

from __future__ import annotations

import contextlib

import tensorflow as tf

v1 = tf.compat.v1
CHANNELS = 8


@contextlib.contextmanager
def variables(resource: bool = False):
    """Create TF1 reference variables (VariableV2), or resource variables, inside the block."""
    with v1.variable_scope(v1.get_variable_scope(), use_resource=resource):
        yield


@contextlib.contextmanager
def scope(name: str | None):
    """A variable scope, or nothing when name is None (the net stays at the root)."""
    if name is None:
        yield
    else:
        with v1.variable_scope(name):
            yield


@contextlib.contextmanager
def renamed_leaves(mapping: dict[str, str]):
    """Rename the last path component of every variable made inside (`weights` -> `kernel`)."""

    def getter(getter, name, *args, **kwargs):
        head, _, leaf = name.rpartition("/")
        leaf = mapping.get(leaf, leaf)
        return getter(f"{head}/{leaf}" if head else leaf, *args, **kwargs)

    with v1.variable_scope(v1.get_variable_scope(), custom_getter=getter):
        yield


def images(size: int = 32, batch: int = 2):
    return v1.placeholder(tf.float32, [batch, size, size, 3], name="images")


def train(outputs, optimizer: str = "adam", name: str | None = None) -> None:
    """A loss over the outputs, a global_step and Adam (2 slots a variable, beta1/2_power), or
    Momentum (1 slot a variable). name: the optimizer's name, which names its slots (`Adam`,
    `Adam_1` by default)."""
    loss = tf.add_n([tf.reduce_mean(tf.square(out)) for out in outputs])
    step = v1.train.get_or_create_global_step()
    if optimizer == "adam":
        v1.train.AdamOptimizer(1e-3, name=name or "Adam").minimize(loss, global_step=step)
    else:
        optimizer = v1.train.MomentumOptimizer(1e-3, 0.9, name=name or "Momentum")
        optimizer.minimize(loss, global_step=step)


def moving_average(decay: float = 0.99) -> None:
    """An ExponentialMovingAverage of every trainable variable: shadows named
    `<var>/ExponentialMovingAverage`, updated by AssignMovingAvg, read by no forward op."""
    v1.train.ExponentialMovingAverage(decay).apply(v1.trainable_variables())


# --- slim nets (built without their arg_scope: no batch norm, conv biases instead) -------------


def resnet(depth: int, num_classes: int = 5, size: int = 32, block1_units: int = 3, name=None):
    """resnet_v1_{50,101} from tf_slim; block1_units != 3 inserts units of block1's own shapes."""
    from tf_slim.nets import resnet_v1

    units = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}[depth]
    units = (block1_units, *units[1:])
    blocks = [
        resnet_v1.resnet_v1_block(f"block{i + 1}", base_depth=64 * 2**i, num_units=n, stride=s)
        for i, (n, s) in enumerate(zip(units, (2, 2, 2, 1), strict=True))
    ]
    net, _ = resnet_v1.resnet_v1(
        images(size), blocks, num_classes, is_training=False, scope=name or f"resnet_v1_{depth}"
    )
    return net


def alexnet(num_classes: int = 5):
    from tf_slim.nets import alexnet as slim_alexnet

    net, _ = slim_alexnet.alexnet_v2(images(224), num_classes, is_training=False)
    return net


def inception(version: int, num_classes: int = 5, name: str | None = None):
    from tf_slim.nets import inception_v1, inception_v3

    if version == 1:
        build, size, default = inception_v1.inception_v1, 224, "InceptionV1"
    else:
        build, size, default = inception_v3.inception_v3, 299, "InceptionV3"
    net, _ = build(images(size), num_classes, is_training=False, scope=name or default)
    return net


# --- small hand-written nets --------------------------------------------------------------------


def conv(x, name: str, channels: int = CHANNELS):
    """A 3x3 convolution with `weights` and `biases`, as slim names them."""
    with v1.variable_scope(name):
        w = v1.get_variable("weights", [3, 3, x.shape[-1], channels])
        b = v1.get_variable("biases", [channels], initializer=v1.zeros_initializer())
        return tf.nn.relu(tf.nn.conv2d(x, w, 1, "SAME") + b)


def dense(x, name: str, units: int, bias: str = "get_variable", weights: str = "defined"):
    """x @ w + b. bias="tf.Variable" makes b with tf.compat.v1.Variable (not get_variable);
    weights="undefined" leaves w's shape to graphdiff (get_variable with no shape)."""
    with v1.variable_scope(name):
        if weights == "undefined":
            w = v1.get_variable("w")
        else:
            w = v1.get_variable("w", [x.shape[-1], units])
        if bias == "tf.Variable":
            b = v1.Variable(tf.zeros([units]), name="b")
        else:
            b = v1.get_variable("b", [units], initializer=v1.zeros_initializer())
        return tf.matmul(x, w) + b


def chain(
    blocks=("enc1", "enc2"),
    heads=("logits",),
    classes: int | tuple[int, ...] = 5,
    normalize: bool = False,
    **head_options,
):
    """images -> stem (3->8) -> blocks (8->8 each: all the same shapes) -> mean -> heads (8->5).

    Every head reads the same pooled features: two heads are siblings of identical shapes
    (unless classes gives each head its own class count). normalize=True scales the images
    (images / 255) before the stem, a new op at the input. head_options go to `dense` (how the
    heads make their variables).
    """
    x = images(16)
    if normalize:
        x = x / 255.0
    net = conv(x, "stem")
    for name in blocks:
        net = conv(net, name)
    pooled = tf.reduce_mean(net, [1, 2])
    counts = classes if isinstance(classes, tuple) else (classes,) * len(heads)
    return [
        dense(pooled, head, count, **head_options)
        for head, count in zip(heads, counts, strict=True)
    ]


@contextlib.contextmanager
def control_flow(version: int):
    """Build tf.while_loop as v1 (Enter/Merge/NextIteration) or v2 (While op) inside the block."""
    was_v2 = v1.control_flow_v2_enabled()
    (v1.enable_control_flow_v2 if version == 2 else v1.disable_control_flow_v2)()
    try:
        yield
    finally:
        (v1.enable_control_flow_v2 if was_v2 else v1.disable_control_flow_v2)()


def recurrent(cell: str = "cell", out: str = "out", steps: int = 4, control_flow_version: int = 1):
    """h <- tanh(h @ cell/w + cell/b), `steps` times in a tf.while_loop; then out: 8 -> 4."""
    x = v1.placeholder(tf.float32, [2, CHANNELS], name="inputs")
    with v1.variable_scope(cell):
        w = v1.get_variable("w", [CHANNELS, CHANNELS])
        b = v1.get_variable("b", [CHANNELS], initializer=v1.zeros_initializer())

    def body(i, h):
        return i + 1, tf.tanh(tf.matmul(h, w) + b)

    with control_flow(control_flow_version):
        _, h = v1.while_loop(lambda i, h: i < steps, body, [tf.constant(0), x])
    return [dense(h, out, 4)]


def mlp(layers, features: int = 4, name: str = "inputs"):
    """A vector input -> dense layers given as (name, units), relu between them."""
    net = v1.placeholder(tf.float32, [2, features], name=name)
    for i, (layer, units) in enumerate(layers):
        net = dense(net, layer, units)
        if i < len(layers) - 1:
            net = tf.nn.relu(net)
    return net


def siamese(towers=("tower", "tower"), head: str = "head", inputs=("left", "right")):
    """Two inputs (`left` and `right` unless inputs names them), each through conv 3->8 ->
    conv 8->8 -> mean; the head (16->5) reads both. towers names the scope of each side: equal
    names share the weights (get_variable reuse), different names give each side its own."""
    features = []
    for side, tower in zip(inputs, towers, strict=True):
        x = v1.placeholder(tf.float32, [2, 16, 16, 3], name=side)
        with v1.variable_scope(tower, reuse=v1.AUTO_REUSE):
            net = conv(conv(x, "conv1"), "conv2")
        features.append(tf.reduce_mean(net, [1, 2]))
    return [dense(tf.concat(features, 1), head, 5)]


def gan(order=("generator", "discriminator")):
    """generator: z (4) -> 8 -> 8; discriminator: 8 -> 8 -> 1, on real and on fake samples.
    Each net has its own Adam (generator beta1 0.5, discriminator beta1 0.9, as GAN recipes
    do); `order` is the order in which their train ops are built, which decides who gets the
    names beta1_power and beta1_power_1."""
    z = v1.placeholder(tf.float32, [2, 4], name="z")
    real = v1.placeholder(tf.float32, [2, 8], name="real")
    with v1.variable_scope("generator"):
        fake = dense(tf.nn.relu(dense(z, "fc1", 8)), "fc2", 8)
    scores = []
    for x in (real, fake):
        with v1.variable_scope("discriminator", reuse=v1.AUTO_REUSE):
            scores.append(dense(tf.nn.relu(dense(x, "fc1", 8)), "fc2", 1))
    losses = {
        "generator": tf.reduce_mean(tf.square(scores[1] - 1.0)),
        "discriminator": tf.reduce_mean(tf.square(scores[0] - 1.0) + tf.square(scores[1])),
    }
    beta1 = {"generator": 0.5, "discriminator": 0.9}
    for net in order:
        trained = v1.get_collection(v1.GraphKeys.TRAINABLE_VARIABLES, scope=net + "/")
        v1.train.AdamOptimizer(1e-3, beta1=beta1[net]).minimize(losses[net], var_list=trained)


# --- stacks of identical blocks (transformer-like), for chains with insertions -------------------


def densenet(blocks: int, size: int = 8):
    """A DenseNet in small: conv1, then blocks `block1` ... (batch-norm-like scale and shift,
    a conv of 4 channels) each concatenated to its input, a transition (`transition_bn`,
    `transition`) and logits. A block appended reads what the transition read, with its
    shapes; the transition's own shapes grow."""

    def norm(x, name):
        with v1.variable_scope(name):
            gamma = v1.get_variable("gamma", [x.shape[-1]], initializer=v1.ones_initializer())
            beta = v1.get_variable("beta", [x.shape[-1]], initializer=v1.zeros_initializer())
            mean, variance = tf.nn.moments(x, [0, 1, 2], keepdims=True)
            return tf.nn.relu(tf.nn.batch_normalization(x, mean, variance, beta, gamma, 1e-3))

    def convolve(x, name, channels, size=3):
        with v1.variable_scope(name):
            w = v1.get_variable("weights", [size, size, x.shape[-1], channels])
            return tf.nn.conv2d(x, w, 1, "SAME")

    with v1.variable_scope("densenet"):
        x = convolve(images(size), "conv1", CHANNELS)
        for i in range(1, blocks + 1):
            with v1.variable_scope(f"block{i}"):
                x = tf.concat([x, convolve(norm(x, "bn"), "conv", 4)], -1)
        x = convolve(norm(x, "transition_bn"), "transition", CHANNELS, 1)
        return dense(tf.reduce_mean(x, [1, 2]), "logits", 5)


WIDTH = 8


def layer_norm(x, name: str = "layer_norm"):
    """Normalize over the last axis, then scale by gamma and shift by beta."""
    with v1.variable_scope(name):
        gamma = v1.get_variable("gamma", [x.shape[-1]], initializer=v1.ones_initializer())
        beta = v1.get_variable("beta", [x.shape[-1]], initializer=v1.zeros_initializer())
        mean, variance = tf.nn.moments(x, [-1], keepdims=True)
        return (x - mean) * tf.math.rsqrt(variance + 1e-6) * gamma + beta


def projection(x, name: str, units: int | None = None):
    """x @ kernel + bias over the last axis (Keras' names)."""
    units = units or x.shape[-1]
    with v1.variable_scope(name):
        kernel = v1.get_variable("kernel", [x.shape[-1], units])
        bias = v1.get_variable("bias", [units], initializer=v1.zeros_initializer())
        return tf.matmul(x, kernel) + bias


def encoder_layer(x, name: str | None, default_name: str | None = None, ffn: bool = True):
    """Self-attention (one projection: queries; keys and values are the input), a feed-forward
    sublayer, a layer norm: six variables, the two kernels and biases of one shape each (four
    without the feed-forward sublayer). name None: TensorFlow names the layer `default_name`,
    `default_name_1`, ... in build order."""
    with v1.variable_scope(name, default_name=default_name):
        queries = projection(x, "attention")
        weights = tf.nn.softmax(tf.matmul(queries, x, transpose_b=True) / float(WIDTH) ** 0.5)
        x = x + tf.matmul(weights, x)
        if ffn:
            x = x + tf.nn.relu(projection(x, "ffn"))
        return layer_norm(x)


def adapter(x, name: str = "adapter"):
    """A residual projection and a layer norm: the shapes of an encoder layer's sublayers,
    not its ops."""
    with v1.variable_scope(name):
        return layer_norm(x + tf.nn.relu(projection(x, "dense")))


def encoder(layers, scope_name: str | None = "encoder", classes: int = 5, ffn: bool = True):
    """tokens [2, 4, WIDTH] -> the layers in order -> mean over tokens -> logits (8 -> 5).

    Each entry of `layers` is a layer's name (encoder_layer), "adapter:NAME" (an adapter,
    which differs from a layer in its ops), "norm:NAME" (a layer norm alone, in scope NAME),
    or "auto:BASE" (a layer TensorFlow names BASE, BASE_1, ... as it makes names unique, the
    way Keras and tf.layers name unnamed layers). ffn=False: layers without the feed-forward
    sublayer.
    """
    x = v1.placeholder(tf.float32, [2, 4, WIDTH], name="tokens")
    with scope(scope_name):
        for entry in layers:
            kind, _, name = entry.rpartition(":")
            if kind == "adapter":
                x = adapter(x, name)
            elif kind == "norm":
                with v1.variable_scope(name):
                    x = layer_norm(x)
            elif kind == "auto":
                x = encoder_layer(x, None, default_name=name, ffn=ffn)
            else:
                x = encoder_layer(x, name, ffn=ffn)
    return [dense(tf.reduce_mean(x, 1), "logits", classes)]
