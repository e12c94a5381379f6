"""The matcher corpus: old graphs, new graphs, and the right source of every new variable.

An old graph is saved as a real checkpoint (Saver, initializer values). A case pairs one old
graph with a new_graph.py and says, for every variable of the new graph, which checkpoint key it
must be restored from, or that it must be initialized:

- `renames`: (regex, replacement) pairs; the first whose regex matches a new name turns it into
  its expected source (slots follow: `model/x/w/Adam` -> `x/w/Adam`). A name no rename matches
  is expected to be restored from the key of the same name.
- `fresh`: regexes of new variables that must be initialized; they win over `renames`.
- `ambiguous`: (regex, keys): new variables the graph cannot decide between those keys for;
  they must be initialized with (at least) those keys listed as candidates in the plan.
- `rules`: the acceptable sets of inferred rules, as (kind, old, new); None: not checked. Cases
  that rename nothing accept only the empty set: a plan of an unchanged name must not invent rules.

A source the checkpoint does not have, or a regex that matches no variable, is a mistake in the
case, and the harness says so rather than scoring it. Graph bodies are the inside of
`build_graph()`; `nets` is corpus_nets.py. VariableV2 unless a case says resource.
"""

from __future__ import annotations

from dataclasses import dataclass

Rules = tuple[frozenset, ...]


def rules(*options: set) -> Rules:
    return tuple(frozenset(option) for option in options)


NO_RULES = rules(set())


def moved(new: str, under: str | None = None) -> Rules:
    """`(root)/ -> new/`, or, when every old key sits under `under`, `under/ -> new/under/`."""
    options = [{("prefix", "", new)}]
    if under:
        options.append({("prefix", under, f"{new}/{under}")})
    return rules(*options)


@dataclass(frozen=True)
class Case:
    name: str
    old: str  # key of OLD_GRAPHS
    new: str  # body of the new graph's build_graph()
    renames: tuple[tuple[str, str], ...] = ()
    fresh: tuple[str, ...] = ()
    ambiguous: tuple[tuple[str, tuple[str, ...]], ...] = ()
    rules: Rules | None = NO_RULES
    why: str = ""


# Old graphs: body of build_graph(). Each is built and saved once per session.
OLD_GRAPHS = {
    "mlp2": """
        with nets.variables():
            nets.mlp([("dense", 8), ("dense_1", 8)])
    """,
    "gan": """
        with nets.variables():
            nets.gan()
    """,
    "resnet50_adam": """
        with nets.variables():
            nets.train([nets.resnet(50)])
    """,
    "alexnet": """
        with nets.variables():
            nets.alexnet()
    """,
    "inception_v1": """
        with nets.variables():
            nets.inception(1)
    """,
    "inception_v3": """
        with nets.variables():
            nets.inception(3)
    """,
    "chain": """
        with nets.variables():
            nets.chain(("enc1", "enc2"))
    """,
    "chain_two_heads": """
        with nets.variables():
            nets.chain(heads=("cls", "box"))
    """,
    "encdec_momentum": """
        with nets.variables():
            nets.train(nets.chain(("enc", "dec")), optimizer="momentum")
    """,
    "resnet101": """
        with nets.variables():
            nets.resnet(101)
    """,
    "chain3": """
        with nets.variables():
            nets.chain(("enc1", "enc2", "enc3"))
    """,
    "encdec_adam": """
        with nets.variables():
            nets.train(nets.chain(("enc", "dec")))
    """,
    "rnn_v1": """
        with nets.variables():
            nets.recurrent(control_flow_version=1)
    """,
    "rnn_v2_resource": """
        with nets.variables(resource=True):
            nets.recurrent(control_flow_version=2)
    """,
    "siamese_shared": """
        with nets.variables():
            nets.siamese(("tower", "tower"))
    """,
    "siamese_untied": """
        with nets.variables():
            nets.siamese(("left_tower", "right_tower"))
    """,
    "chain_ema": """
        with nets.variables():
            nets.chain()
            nets.moving_average()
    """,
    "chain_unused": """
        with nets.variables():
            nets.chain()
            with nets.scope("calib"):
                tf.compat.v1.get_variable("scale", [8])
                tf.compat.v1.get_variable("shift", [8])
    """,
    "encoder_adam": """
        with nets.variables():
            nets.train(nets.encoder([f"layer_{i}" for i in range(6)]))
    """,
    "encoder": """
        with nets.variables():
            nets.encoder([f"layer_{i}" for i in range(6)])
    """,
    "encoder_blocks_adam": """
        with nets.variables():
            nets.train(nets.encoder([f"block{i}_main" for i in range(6)]))
    """,
    "encoder_100": """
        with nets.variables():
            nets.encoder([f"layer_{i}" for i in range(100)])
    """,
    "encoder_no_ffn": """
        with nets.variables():
            nets.encoder([f"layer_{i}" for i in range(6)], ffn=False)
    """,
    "encoder_counted": """
        with nets.variables():
            nets.encoder(["auto:block"] * 6)
    """,
    "densenet2_adam": """
        with nets.variables():
            nets.train([nets.densenet(2)])
    """,
    "student_teacher": """
        with nets.variables():
            with nets.scope("student"):
                nets.chain(("enc1", "enc2"))
            with nets.scope("teacher"):
                nets.chain(("enc1", "enc2", "enc3"))
    """,
}

MOVED = (("^model/", ""),)
TO_ENCODER = (("^model/", "encoder/"),)  # a stack of layers moved from encoder/ to model/


def layers(*spans) -> str:
    """Layer names for nets.encoder: `layers(range(3), "adapter", range(3, 6))` is layer_0,
    layer_1, layer_2, adapter, layer_3, layer_4, layer_5 (as the source of a list)."""
    names = []
    for span in spans:
        names += [span] if isinstance(span, str) else [f"layer_{i}" for i in span]
    return repr(names)


CASES = (
    # --- real nets from tf_slim.nets -----------------------------------------------------------
    Case(
        "resnet50_moved_adam",
        "resnet50_adam",
        """
        with nets.variables():
            with nets.scope("model"):
                net = nets.resnet(50)
            nets.train([net])
        """,
        renames=MOVED,
        rules=moved("model", "resnet_v1_50"),
        why="The whole net moved under model/; Adam's slots follow their variables; "
        "global_step and beta1/2_power stay at the root and keep their names.",
    ),
    Case(
        "resnet50_to_101",
        "resnet50_adam",
        """
        with nets.variables():
            nets.resnet(101)
        """,
        renames=(("^resnet_v1_101/", "resnet_v1_50/"),),
        fresh=(r"^resnet_v1_101/block3/unit_([7-9]|1\d|2\d)/",),
        rules=rules({("prefix", "resnet_v1_50", "resnet_v1_101")}),
        why="Deeper variant, and slim names the top scope after the depth. Debatable: block3's "
        "units 2-23 all have one shape, so units 7-23 could take any of 2-6 (or 6 could go to 23, "
        "next to block4). Chosen: unit_k <- unit_k, what the one rename rule says and what people "
        "do when they grow a resnet; units 7-23 are new.",
    ),
    Case(
        "resnet50_new_head",
        "resnet50_adam",
        """
        with nets.variables():
            nets.resnet(50, num_classes=7)
        """,
        fresh=("^resnet_v1_50/logits/",),
        why="Class count 5 -> 7: the logits are new, everything else keeps its name.",
    ),
    Case(
        "resnet50_towers",
        "resnet50_adam",
        """
        with nets.variables():
            for tower in ("tower_0", "tower_1"):
                with nets.scope(tower):
                    nets.resnet(50)
        """,
        renames=(("^tower_[01]/", ""),),
        rules=rules(
            {("prefix", "", "tower_0"), ("prefix", "", "tower_1")},
            {
                ("prefix", "resnet_v1_50", "tower_0/resnet_v1_50"),
                ("prefix", "resnet_v1_50", "tower_1/resnet_v1_50"),
            },
        ),
        why="Two towers, each a whole copy of the old net (its own input): both restore from the "
        "same keys.",
    ),
    Case(
        "resnet50_moved_extra_unit",
        "resnet50_adam",
        """
        with nets.variables():
            with nets.scope("model"):
                nets.resnet(50, block1_units=4)
        """,
        renames=MOVED,
        fresh=("^model/resnet_v1_50/block1/unit_4/",),
        rules=moved("model", "resnet_v1_50"),
        why="A unit with exactly the shapes of block1's units 2-3 appended to block1, and the net "
        "moved: unit_4 is new; units 1-3 keep their places (the rule says so).",
    ),
    Case(
        "resnet101_to_50",
        "resnet101",
        """
        with nets.variables():
            nets.resnet(50)
        """,
        renames=(("^resnet_v1_50/", "resnet_v1_101/"),),
        rules=rules({("prefix", "resnet_v1_101", "resnet_v1_50")}),
        why="Shallower variant: block3 keeps units 1-6 of 23, each from the unit of its name "
        "(the rule); units 7-23 of the checkpoint are unused.",
    ),
    Case(
        "alexnet_plain",
        "alexnet",
        """
        with nets.variables():
            nets.alexnet()
        """,
        why="Nothing changed: every variable by name, no rule.",
    ),
    Case(
        "alexnet_kernel_bias",
        "alexnet",
        """
        with nets.variables():
            with nets.renamed_leaves({"weights": "kernel", "biases": "bias"}):
                nets.alexnet()
        """,
        renames=(("/kernel$", "/weights"), ("/bias$", "/biases")),
        rules=rules({("leaf", "weights", "kernel"), ("leaf", "biases", "bias")}),
        why="Naming convention switched from slim's weights/biases to Keras' kernel/bias.",
    ),
    Case(
        "inception_v1_renamed",
        "inception_v1",
        """
        with nets.variables():
            nets.inception(1, name="GoogLeNet")
        """,
        renames=(("^GoogLeNet/", "InceptionV1/"),),
        rules=rules({("prefix", "InceptionV1", "GoogLeNet")}),
        why="Top scope renamed. In Mixed_3c and Mixed_4d, the first 1x1 convolutions of Branch_0 "
        "and Branch_1 have equal shapes and read the same tensor: they must not swap.",
    ),
    Case(
        "inception_v3_moved_new_head",
        "inception_v3",
        """
        with nets.variables():
            with nets.scope("model"):
                nets.inception(3, num_classes=7)
        """,
        renames=MOVED,
        fresh=(
            "^model/InceptionV3/Logits/Conv2d_1c_1x1/",
            "^model/InceptionV3/AuxLogits/Conv2d_2b_1x1/",
        ),
        rules=moved("model", "InceptionV3"),
        why="Moved under model/ and 5 -> 7 classes: both classifier layers (main and aux) are "
        "new; the rest of AuxLogits keeps its shapes and is restored. Most Mixed blocks have "
        "sibling branches of equal shapes (up to four in Mixed_6e).",
    ),
    # --- hand-written traps --------------------------------------------------------------------
    Case(
        "siblings_renamed",
        "chain",
        """
        with nets.variables():
            nets.chain(("stage_a", "stage_b"))
        """,
        renames=(("^stage_a/", "enc1/"), ("^stage_b/", "enc2/")),
        rules=rules({("prefix", "enc1", "stage_a"), ("prefix", "enc2", "stage_b")}),
        why="enc1 and enc2 have identical shapes; their order on the data path tells them apart.",
    ),
    Case(
        "siblings_shift",
        "chain",
        """
        with nets.variables():
            nets.chain(("enc0", "enc1"))
        """,
        renames=(("^enc1/", "enc2/"), ("^enc0/", "enc1/")),
        rules=rules({("prefix", "enc1", "enc0"), ("prefix", "enc2", "enc1")}),
        why="Debatable: blocks renumbered from 0, so the old name enc1 now labels the block that "
        "was enc2. Same name says enc1 <- enc1; the graph says the block after the stem is old "
        "enc1 (now enc0) and the block before the head is old enc2 (now enc1), and only that "
        "reading explains all blocks with one consistent renaming. Chosen: the graph. "
        "Restoring enc1 <- enc1 would leave enc0 with no consistent source, and enc0 <- enc2 "
        "would swap the blocks.",
    ),
    Case(
        "inserted_same_names",
        "chain",
        """
        with nets.variables():
            nets.chain(("enc1", "enc_extra", "enc2"))
        """,
        fresh=("^enc_extra/",),
        why="A block with exactly enc1's shapes inserted between enc1 and enc2: it is new.",
    ),
    Case(
        "inserted_moved",
        "chain",
        """
        with nets.variables():
            with nets.scope("model"):
                nets.chain(("enc1", "enc_extra", "enc2"))
        """,
        renames=MOVED,
        fresh=("^model/enc_extra/",),
        rules=moved("model"),
        why="The same insertion with the net moved: no name matches, enc_extra now sits where "
        "enc2 was (second after the stem), yet it is new and enc2 is model/enc2.",
    ),
    Case(
        "removed_block_moved",
        "chain3",
        """
        with nets.variables():
            with nets.scope("model"):
                nets.chain(("enc1", "enc3"))
        """,
        renames=MOVED,
        rules=moved("model"),
        why="enc2 deleted and the net moved: enc3 (now second after the stem) is still enc3; "
        "enc2 is unused.",
    ),
    Case(
        "parallel_head",
        "chain",
        """
        with nets.variables():
            nets.chain(heads=("logits", "logits_aux"))
        """,
        fresh=("^logits_aux/",),
        why="A second head of exactly the old head's shapes, reading the same features, while the "
        "old head keeps its name: it is new. One key feeds several variables only when whole "
        "subgraphs are copies (towers), not for one layer beside its original.",
    ),
    Case(
        "parallel_heads_both_renamed",
        "chain",
        """
        with nets.variables():
            nets.chain(heads=("main", "aux"))
        """,
        fresh=("^main/", "^aux/"),
        ambiguous=(("^(main|aux)/w$", ("logits/w",)), ("^(main|aux)/b$", ("logits/b",))),
        why="The old head renamed main and a second head of its shapes beside it on the same "
        "features, renamed too: one layer beside its original is no tower, and nothing tells "
        "which is the old one (was: logits copied into both).",
    ),
    Case(
        "parallel_head_moved",
        "chain",
        """
        with nets.variables():
            with nets.scope("model"):
                nets.chain(heads=("logits", "logits_aux"))
        """,
        renames=MOVED,
        fresh=("^model/logits_aux/",),
        rules=moved("model"),
        why="The same with the net moved: structurally both heads fit old logits equally; the "
        "rule (root) -> model/ says which one is the old head.",
    ),
    Case(
        "siblings_ambiguous_renamed",
        "chain_two_heads",
        """
        with nets.variables():
            nets.chain(heads=("head_a", "head_b"))
        """,
        fresh=("^head_a/", "^head_b/"),
        ambiguous=(("/w$", ("cls/w", "box/w")), ("/b$", ("cls/b", "box/b"))),
        why="Two heads of equal shapes read the same features and feed nothing: renamed cls, box "
        "-> head_a, head_b, nothing in the graph tells which is which (creation order is not "
        "evidence). Both must be initialized, with the candidates listed.",
    ),
    Case(
        "enc_to_encoder_adam",
        "encdec_adam",
        """
        with nets.variables():
            nets.train(nets.chain(("encoder", "dec")))
        """,
        renames=(("^encoder/", "enc/"),),
        rules=rules({("prefix", "enc", "encoder")}),
        why="enc renamed to encoder, trained with Adam: encoder/weights/Adam <- enc/weights/Adam.",
    ),
    Case(
        "training_moved_to_resource",
        "encdec_adam",
        """
        with nets.variables(resource=True):
            with nets.scope("model"):
                nets.train(nets.chain(("enc", "dec")))
        """,
        renames=(("^model/model/", ""), ("^model/", "")),
        rules=moved("model"),
        why="The whole training graph built under model/, optimizer included, and switched to "
        "resource variables (ResourceApplyAdam). global_step and beta1/2_power move too, off "
        "the forward path; TensorFlow names the slots model/model/<var>/Adam (the slot's scope "
        "is the variable's name, opened inside model/): they must still follow their variables.",
    ),
    Case(
        "optimizer_switched_moved",
        "encdec_momentum",
        """
        with nets.variables():
            with nets.scope("model"):
                outputs = nets.chain(("enc", "dec"))
            nets.train(outputs)
        """,
        renames=MOVED,
        fresh=("/Adam(_1)?$", "^beta[12]_power$"),
        rules=moved("model"),
        why="Momentum -> Adam and moved: the weights and global_step are restored; Adam's slots "
        "and beta powers are new (the checkpoint's Momentum slots are unused).",
    ),
    Case(
        "partial_move",
        "encdec_adam",
        """
        with nets.variables():
            with nets.scope("model"):
                net = nets.conv(nets.images(16), "stem")
                net = nets.conv(net, "enc")
            net = nets.conv(net, "dec")
            outputs = [nets.dense(tf.reduce_mean(net, [1, 2]), "logits", 5)]
            nets.train(outputs)
        """,
        renames=(("^model/", ""),),
        rules=rules(
            {("prefix", "", "model")},
            {("prefix", "stem", "model/stem"), ("prefix", "enc", "model/enc")},
        ),
        why="Only stem and enc moved under model/; dec and logits stay where they were.",
    ),
    Case(
        "ref_to_resource_moved",
        "chain",
        """
        with nets.variables(resource=True):
            with nets.scope("model"):
                nets.chain()
        """,
        renames=MOVED,
        rules=moved("model"),
        why="Old graph VariableV2 (Identity reads), new graph resource variables "
        "(VarHandleOp, ReadVariableOp), and moved: same checkpoint keys, different op types.",
    ),
    Case(
        "tf_variable_undefined_shape_moved",
        "chain",
        """
        with nets.variables():
            with nets.scope("model"):
                nets.chain(bias="tf.Variable", weights="undefined")
        """,
        renames=MOVED,
        rules=moved("model"),
        why="Moved; the head's bias is made with tf.compat.v1.Variable, and its weights with "
        "get_variable and no shape: model/logits/w has an unknown shape, so every float key "
        "fits it by shape alone.",
    ),
    Case(
        "while_v1_moved",
        "rnn_v1",
        """
        with nets.variables():
            with nets.scope("model"):
                nets.recurrent(control_flow_version=1)
        """,
        renames=MOVED,
        rules=moved("model"),
        why="A v1 tf.while_loop (Enter/Merge/Switch/NextIteration) reads cell/*; moved.",
    ),
    Case(
        "while_v2_resource_renamed",
        "rnn_v2_resource",
        """
        with nets.variables(resource=True):
            nets.recurrent(cell="rnn_cell", control_flow_version=2)
        """,
        renames=(("^rnn_cell/", "cell/"),),
        rules=rules({("prefix", "cell", "rnn_cell")}),
        why="Resource variables read inside a functional While op (its body lives in the "
        "function library); the cell's scope renamed.",
    ),
    # --- adversarial: surgery that has fooled (or could fool) the matcher ----------------------
    # Their failing siblings live in pending_cases.py (`report.py --pending`).
    Case(
        "append_end_moved",
        "chain",
        """
        with nets.variables():
            with nets.scope("model"):
                nets.chain(("enc1", "enc2", "enc3"))
        """,
        renames=MOVED,
        fresh=("^model/enc3/",),
        rules=moved("model"),
        why="A block of enc2's shapes appended after the last old block (right before the "
        "pooling), and the net moved. Walked back from the head, enc3 sits where enc2 was; the "
        "rule (root) -> model/ says enc3 is new and model/enc2 is enc2.",
    ),
    Case(
        "insert_start_renamed",
        "chain",
        """
        with nets.variables():
            nets.chain(("adapter", "block1", "block2"))
        """,
        renames=(),
        fresh=("^adapter/", "^block1/", "^block2/"),
        why="Both blocks renamed (enc1, enc2 -> block1, block2) and a block of the same shapes "
        "inserted first. The graph alone cannot tell an insertion at the start from one at the "
        "end (three identical blocks where there were two; append_end_renamed is the same graph "
        "pair read the other way), and no name survives to settle it. Precision first: all three "
        "are initialized, with their candidates in the plan; restoring any would be a guess.",
    ),
    Case(
        "insert_start_softmax",
        "chain",
        """
        with nets.variables():
            [tf.nn.softmax(out) for out in nets.chain(("enc0", "enc1", "enc2"))]
        """,
        fresh=("^enc0/",),
        why="A block of enc1's shapes inserted after the stem, names kept, and a softmax added "
        "after the head: the output no longer pairs with the old one, so the graph read without "
        "names (from the input only) puts enc0 where enc1 was and enc1 where enc2 was. The names "
        "say more: enc1 and enc2 are still there, enc0 is new.",
    ),
    Case(
        "swap_order_same_names",
        "chain",
        """
        with nets.variables():
            nets.chain(("enc2", "enc1"))
        """,
        renames=(("^enc2/", "enc1/"), ("^enc1/", "enc2/")),
        rules=rules({("prefix", "enc1", "enc2"), ("prefix", "enc2", "enc1")}),
        why="Debatable: the two blocks of equal shapes are built in the other order and keep "
        "their names, which is the same graph pair as keeping the order and swapping the names. "
        "Names say enc1 <- enc1; the graph says the block after the stem is old enc1. Chosen: "
        "the graph, as in siblings_shift. Both readings are complete and consistent, but only "
        "the graph's restores the old computation (the new net computes exactly the old "
        "function, what `graphdiff verify` will check); restoring by name silently makes a "
        "different net.",
    ),
    Case(
        "leaf_move_insert",
        "chain",
        """
        with nets.variables():
            with nets.scope("model"), nets.renamed_leaves({"weights": "kernel"}):
                nets.chain(("enc1", "enc_extra", "enc2"))
        """,
        renames=(("^model/(.*)/kernel$", r"\1/weights"), ("^model/", "")),
        fresh=("^model/enc_extra/",),
        rules=rules({("prefix", "", "model"), ("leaf", "weights", "kernel")}),
        why="Three edits at once: moved under model/, weights -> kernel, and a block of enc1's "
        "shapes inserted between enc1 and enc2. enc_extra is new; no rule alone maps enc2 to a "
        "new name (only the two composed do), which must not let the walk's candidates win.",
    ),
    Case(
        "leaf_move_prepend",
        "chain",
        """
        with nets.variables():
            with nets.scope("model"), nets.renamed_leaves({"weights": "kernel"}):
                nets.chain(("enc0", "enc1", "enc2"))
        """,
        renames=(("^model/(.*)/kernel$", r"\1/weights"), ("^model/", "")),
        fresh=("^model/enc0/",),
        rules=rules({("prefix", "", "model"), ("leaf", "weights", "kernel")}),
        why="Moved, weights -> kernel, and a new block right after the stem: enc0 is new (the "
        "walk from the input puts it where enc1 was).",
    ),
    Case(
        "encdec_both_renamed_adam",
        "encdec_adam",
        """
        with nets.variables():
            nets.train(nets.chain(("encoder", "decoder")))
        """,
        renames=(("^encoder/", "enc/"), ("^decoder/", "dec/")),
        rules=rules({("prefix", "enc", "encoder"), ("prefix", "dec", "decoder")}),
        why="Encoder and decoder have identical shapes and are both renamed; their order on the "
        "data path tells them apart, and Adam's slots follow.",
    ),
    Case(
        "mixed_ref_resource_moved",
        "chain",
        """
        with nets.scope("model"):
            x = nets.images(16)
            with nets.variables(resource=True):
                net = nets.conv(nets.conv(x, "stem"), "enc1")
            with nets.variables(resource=False):
                net = nets.conv(net, "enc2")
                nets.dense(tf.reduce_mean(net, [1, 2]), "logits", 5)
        """,
        renames=MOVED,
        rules=moved("model"),
        why="Moved; stem and enc1 now resource variables, enc2 and logits still VariableV2: "
        "one graph mixes ReadVariableOp and Identity reads.",
    ),
    Case(
        "siamese_moved",
        "siamese_shared",
        """
        with nets.variables():
            with nets.scope("model"):
                nets.siamese(("tower", "tower"))
        """,
        renames=MOVED,
        rules=moved("model"),
        why="Two inputs through one tower (get_variable reuse: every weight feeds two convs), "
        "moved under model/.",
    ),
    Case(
        "siamese_untied",
        "siamese_shared",
        """
        with nets.variables():
            nets.siamese(("left_tower", "right_tower"))
        """,
        renames=(("^(left|right)_tower/", "tower/"),),
        rules=rules({("prefix", "tower", "left_tower"), ("prefix", "tower", "right_tower")}),
        why="Shared weights untied: each side gets its own copy of the tower, and both copies "
        "start from the shared weights (one key, two variables, as towers).",
    ),
    Case(
        "siamese_tied",
        "siamese_untied",
        """
        with nets.variables():
            nets.siamese(("tower", "tower"))
        """,
        fresh=("^tower/",),
        ambiguous=(
            ("^tower/conv1/weights$", ("left_tower/conv1/weights", "right_tower/conv1/weights")),
            ("^tower/conv2/biases$", ("left_tower/conv2/biases", "right_tower/conv2/biases")),
        ),
        why="Two towers tied into one shared tower: each shared weight sits where both old "
        "towers' weights were; picking one side would be a guess. Initialize, list both.",
    ),
    Case(
        "siamese_renamed_inputs",
        "siamese_untied",
        """
        with nets.variables():
            nets.siamese(("query_tower", "doc_tower"), inputs=("query", "doc"))
        """,
        renames=(("^query_tower/", "left_tower/"), ("^doc_tower/", "right_tower/")),
        rules=rules(
            {("prefix", "left_tower", "query_tower"), ("prefix", "right_tower", "doc_tower")}
        ),
        why="Two inputs and both towers renamed (left, right -> query, doc): no input pairs by "
        "name; the towers of equal shapes are told apart by their port on the head's concat.",
    ),
    Case(
        "ema_moved",
        "chain_ema",
        """
        with nets.variables():
            with nets.scope("model"):
                nets.chain()
            nets.moving_average()
        """,
        renames=MOVED,
        rules=moved("model"),
        why="An ExponentialMovingAverage shadow per weight (read by no forward op, updated by "
        "AssignMovingAvg), the net moved: the shadows follow their variables as slots do.",
    ),
    Case(
        "unused_variables_moved",
        "chain_unused",
        """
        with nets.variables():
            with nets.scope("model"):
                nets.chain()
                with nets.scope("calib"):
                    tf.compat.v1.get_variable("scale", [8])
                    tf.compat.v1.get_variable("shift", [8])
                    tf.compat.v1.get_variable("offset", [8])
        """,
        renames=MOVED,
        fresh=("^model/calib/offset$",),
        rules=moved("model"),
        why="Variables no op reads (calibration constants kept beside the net) moved with the "
        "net: scale and shift are restored by the rule alone; offset, of the same shape, is new.",
    ),
    Case(
        "student_teacher_moved",
        "student_teacher",
        """
        with nets.variables():
            with nets.scope("model"), nets.scope("student"):
                nets.chain(("enc1", "enc2"))
            with nets.scope("frozen"), nets.scope("teacher"):
                nets.chain(("enc1", "enc2", "enc3"))
        """,
        renames=(("^model/", ""), ("^frozen/", "")),
        rules=rules(
            {("prefix", "", "model"), ("prefix", "", "frozen")},
            {("prefix", "student", "model/student"), ("prefix", "teacher", "frozen/teacher")},
        ),
        why="Two nets with partly equal names and shapes (student enc1-2, teacher enc1-3) moved "
        "under different scopes: each keeps its own weights, none crosses over.",
    ),
    # --- chains of identical blocks: a renamed stack with blocks inserted or removed (issue 15)
    Case(
        "adapter_inserted_moved_adam",
        "encoder_adam",
        f"""
        with nets.variables():
            nets.train(nets.encoder({layers(range(3), "adapter", range(3, 6))}, "model"))
        """,
        renames=TO_ENCODER,
        fresh=("^model/adapter/",),
        rules=rules({("prefix", "encoder", "model")}),
        why="Adapters added to a transformer: encoder/layer_{0..5} moved to model/ and a block "
        "of exactly a layer's ops and shapes inserted after layer_2, trained with Adam. Read "
        "without names, every layer fits its own key and its neighbour's (the walk from the "
        "input shifts after the adapter, the one from the output before it); the names after "
        "the renamed prefix agree for every layer, and only for the chain with its gap at the "
        "adapter. Every layer and its slots from its own old layer; the adapter is new.",
    ),
    Case(
        "adapter_inserted_moved_100",
        "encoder_100",
        f"""
        with nets.variables():
            nets.encoder({layers(range(50), "adapter", range(50, 100))}, "model")
        """,
        renames=TO_ENCODER,
        fresh=("^model/adapter/",),
        rules=rules({("prefix", "encoder", "model")}),
        why="adapter_inserted_moved_adam at 100 layers (600 variables, no optimizer): the "
        "same answer, and no rule per layer.",
    ),
    Case(
        "adapter_inserted_word_renamed_adam",
        "encoder_blocks_adam",
        """
        with nets.variables():
            names = [f"layer{i}_main" for i in range(6)]
            nets.train(nets.encoder(names[:4] + ["adapter"] + names[4:]))
        """,
        renames=((r"^encoder/layer(\d)_main/", r"encoder/block\1_main/"),),
        fresh=("^encoder/adapter/",),
        rules=rules({("word", "encoder/block*", "encoder/layer*")}),
        why="The same with the word of each layer's name renamed, block{i}_main -> "
        "layer{i}_main, and a block identical to the layers inserted after layer3: each pair "
        "is its own scope rename, seen in one layer; the word renamed is seen in every layer. "
        "Every layer and its Adam slots from its own old layer; the adapter is new.",
    ),
    Case(
        "adapter_distinct_moved",
        "encoder",
        f"""
        with nets.variables():
            nets.encoder({layers(range(3), "adapter:adapter", range(3, 6))}, "model")
        """,
        renames=TO_ENCODER,
        fresh=("^model/adapter/",),
        rules=rules({("prefix", "encoder", "model")}),
        why="The same with an adapter of other ops whose projection and layer norm have the "
        "shapes of a layer's sublayers: walked from the output, they sit where layer_2's "
        "feed-forward and layer norm were. They are new.",
    ),
    Case(
        "adapter_first_moved",
        "encoder",
        f"""
        with nets.variables():
            nets.encoder({layers("adapter", range(6))}, "model")
        """,
        renames=TO_ENCODER,
        fresh=("^model/adapter/",),
        rules=rules({("prefix", "encoder", "model")}),
        why="A block identical to the layers inserted before layer_0, the stack moved: the walk "
        "from the input puts the adapter where layer_0 was.",
    ),
    Case(
        "adapter_last_moved",
        "encoder",
        f"""
        with nets.variables():
            nets.encoder({layers(range(6), "adapter")}, "model")
        """,
        renames=TO_ENCODER,
        fresh=("^model/adapter/",),
        rules=rules({("prefix", "encoder", "model")}),
        why="A block identical to the layers appended after layer_5, the stack moved: the walk "
        "from the output puts the adapter where layer_5 was.",
    ),
    Case(
        "two_adapters_moved",
        "encoder",
        f"""
        with nets.variables():
            nets.encoder(
                {layers(range(2), "adapter_a", range(2, 4), "adapter_b", range(4, 6))}, "model"
            )
        """,
        renames=TO_ENCODER,
        fresh=("^model/adapter_[ab]/",),
        rules=rules({("prefix", "encoder", "model")}),
        why="Two identical blocks inserted, after layer_1 and after layer_3, the stack moved. "
        "Between them, both walks are off by one in opposite directions: layer_2 and layer_3 "
        "fit layer_1's and layer_4's keys, never their own; the rename the rest of the chain "
        "shows gives them their own.",
    ),
    Case(
        "layer_removed_moved",
        "encoder",
        f"""
        with nets.variables():
            nets.encoder({layers(range(2), range(3, 6))}, "model")
        """,
        renames=TO_ENCODER,
        rules=rules({("prefix", "encoder", "model")}),
        why="layer_2 deleted and the stack moved: each remaining layer from its own old layer, "
        "encoder/layer_2 unused.",
    ),
    Case(
        "layers_renamed_adapter_inserted",
        "encoder",
        """
        with nets.variables():
            nets.encoder(
                ["block_0", "block_1", "block_2", "adapter", "block_3", "block_4", "block_5"],
                "model",
            )
        """,
        fresh=("^model/",),
        ambiguous=(
            ("^model/block_1/attention/kernel$", ("encoder/layer_0/attention/kernel",)),
            ("^model/adapter/ffn/bias$", ("encoder/layer_2/ffn/bias", "encoder/layer_3/ffn/bias")),
        ),
        why="The layers renamed (layer_i -> block_i) and a block identical to them inserted: no "
        "name links a block to a layer, and the chain with one gap fits every place of the gap "
        "equally. All are initialized, with their candidates listed.",
    ),
    Case(
        "layers_renamed_adapter_distinct",
        "encoder",
        """
        with nets.variables():
            nets.encoder(
                ["block_0", "block_1", "block_2", "adapter:adapter", "block_3", "block_4"]
                + ["block_5"],
                "model",
            )
        """,
        renames=(("^model/block_", "encoder/layer_"),),
        fresh=("^model/adapter/",),
        rules=None,
        why="The layers renamed (layer_i -> block_i) and an adapter of other ops inserted: the "
        "names say nothing, the graph says where the gap is. Every block from the layer at its "
        "place in the chain; the adapter, whose sublayers have a layer's shapes, is new.",
    ),
    Case(
        "layers_renamed_norm_inserted",
        "encoder_no_ffn",
        """
        with nets.variables():
            nets.encoder(
                ["block_0", "block_1", "block_2", "norm:extra", "block_3", "block_4", "block_5"],
                "model",
                ffn=False,
            )
        """,
        renames=(("^model/block_", "encoder/layer_"),),
        fresh=("^model/extra/",),
        rules=None,
        why="Layers of four variables (attention projection, layer norm) renamed layer_i -> "
        "block_i, and a layer norm alone inserted after block_2. Walked from the output, it "
        "sits where layer_2's layer norm was; block_2 holds that key too. The rename "
        "encoder/layer_2/ -> model/extra/ (seen twice) is no copy of layer_2, as a tower "
        "would be: model/extra has no attention. The inserted norm is new.",
    ),
    Case(
        "layers_renamed_one_removed",
        "encoder",
        """
        with nets.variables():
            nets.encoder(["block_0", "block_1", "block_2", "block_3", "block_4"], "model")
        """,
        fresh=("^model/",),
        ambiguous=(("^model/block_2/ffn/kernel$", ("encoder/layer_2/ffn/kernel",)),),
        why="The layers renamed and one of six removed: five identical blocks where there were "
        "six, and nothing says which one went. All are initialized, with their candidates.",
    ),
    Case(
        "counted_blocks_one_more",
        "encoder_counted",
        """
        with nets.variables():
            nets.encoder(["auto:block"] * 7, "model")
        """,
        fresh=("^model/",),
        ambiguous=(("^model/block_3/attention/bias$", ("encoder/block_3/attention/bias",)),),
        why="Blocks TensorFlow named by counting (block, block_1, ...), the stack moved, and a "
        "seventh block of the same kind: block_3 -> block_3 is a place in the list, and "
        "whether a block was added at the end or in the middle (renumbering those after it), "
        "only the code says. All are initialized, with their candidates listed.",
    ),
    Case(
        "counted_blocks_one_removed",
        "encoder_counted",
        """
        with nets.variables():
            nets.encoder(["auto:block"] * 5)
        """,
        fresh=("^encoder/block",),
        ambiguous=(
            (
                "^encoder/block_2/ffn/kernel$",
                ("encoder/block_2/ffn/kernel", "encoder/block_3/ffn/kernel"),
            ),
        ),
        why="Blocks named by counting, one of six removed, the scope kept: every name is still "
        "in the checkpoint, but block_2 is now the third block left, which was block_2 or "
        "block_3. Restoring by name (what main did) puts each block after the removed one "
        "into its predecessor. All are initialized, with their candidates listed.",
    ),
    Case(
        "layers_renamed_norms_inserted",
        "encoder",
        """
        with nets.variables():
            nets.encoder(
                ["block_0", "norm:extra_a", "block_1", "block_2", "norm:extra_b"]
                + ["block_3", "block_4", "block_5"]
            )
        """,
        renames=(("^encoder/block_", "encoder/layer_"),),
        fresh=("^encoder/extra_[ab]/",),
        rules=None,
        why="The layers renamed (layer_i -> block_i) and two layer norms inserted: no op walk "
        "gets past a norm, so block_1 and block_2 are reached by none, and the walk from the "
        "output puts extra_b where layer_2's layer norm was. The chain of alike layers has as "
        "many blocks on both sides: each block is the layer at its place; the norms are new.",
    ),
    Case(
        "adapter_replaces_first_layer",
        "encoder",
        f"""
        with nets.variables():
            nets.encoder({layers("adapter:adapter", range(1, 6))})
        """,
        fresh=("^encoder/adapter/",),
        rules=NO_RULES,
        why="layer_0 removed and an adapter (a layer's shapes, other ops) put in its place, the "
        "names kept: the walk from the output puts the adapter's projection and layer norm "
        "where layer_0's were. A block of the chain goes whole or not at all: the adapter is "
        "new, and layer_0 unused.",
    ),
    Case(
        "counted_blocks_adapter_inserted",
        "encoder_counted",
        """
        with nets.variables():
            nets.encoder(["auto:block"] * 3 + ["adapter"] + ["auto:block"] * 3, "model")
        """,
        renames=TO_ENCODER,
        fresh=("^model/adapter/",),
        rules=rules({("prefix", "encoder", "model")}),
        why="Blocks named by counting, the stack moved, and an identical block named adapter "
        "inserted: the count of blocks is the same on both sides, so block_3 is still block_3.",
    ),
    # --- found by the adversarial review, fixed since ------------------------------------------
    Case(
        "append_end_renamed",
        "chain",
        """
        with nets.variables():
            nets.chain(("block1", "block2", "extra"))
        """,
        renames=(),
        fresh=("^block1/", "^block2/", "^extra/"),
        why="Both blocks renamed (enc1, enc2 -> block1, block2) and a block of the same shapes "
        "appended after them: the mirror image of insert_start_renamed, and the same graph pair. "
        "Nothing tells where the new block went, so all three are initialized with their "
        "candidates listed. Restoring extra <- enc2 and block2 <- enc1 (what a walk from the "
        "output alone says) is the wrong restore this case exists to catch.",
    ),
    Case(
        "append_end_normalized",
        "chain",
        """
        with nets.variables():
            nets.chain(("enc1", "enc2", "enc3"), normalize=True)
        """,
        fresh=("^enc3/",),
        why="A block of enc2's shapes appended after enc2, every old name kept, and the images "
        "now divided by 255 before the stem (a new op at the input). enc3 is new: enc1 and enc2 "
        "kept their names and their order; nothing was renamed. Without the division the "
        "matcher gets this right (inserted_same_names is the same idea in the middle).",
    ),
    Case(
        "leaf_move_append",
        "chain",
        """
        with nets.variables():
            with nets.scope("model"), nets.renamed_leaves({"weights": "kernel"}):
                nets.chain(("enc1", "enc2", "enc3"))
        """,
        renames=(("^model/(.*)/kernel$", r"\1/weights"), ("^model/", "")),
        fresh=("^model/enc3/",),
        rules=rules({("prefix", "", "model"), ("leaf", "weights", "kernel")}),
        why="Moved under model/, weights -> kernel, and a block of enc2's shapes appended after "
        "enc2. enc3 is new and model/enc2 is enc2: the two rules composed say so. Without the "
        "leaf rename (append_end_moved in cases.py) the matcher gets it right.",
    ),
    Case(
        "gan_optimizers_reordered",
        "gan",
        """
        with nets.variables():
            nets.gan(order=("discriminator", "generator"))
        """,
        renames=(
            ("^beta1_power$", "beta1_power_1"),
            ("^beta2_power$", "beta2_power_1"),
            ("^beta1_power_1$", "beta1_power"),
            ("^beta2_power_1$", "beta2_power"),
        ),
        rules=None,
        why="A GAN with one Adam per net (generator beta1 0.5, discriminator 0.9); the new code "
        "builds the discriminator's train op first. TensorFlow names the first Adam's powers "
        "beta1_power/beta2_power and the second's beta1_power_1/beta2_power_1, so the names "
        "now point at the other optimizer: the discriminator's beta1_power must come from "
        "beta1_power_1 (0.9^t, not 0.5^t). The graph says whose they are: each power feeds the "
        "ApplyAdam ops of its own net's variables. (Inferred rules are not checked here.)",
    ),
    Case(
        "optimizer_renamed",
        "encdec_adam",
        """
        with nets.variables():
            nets.train(nets.chain(("encoder", "dec")), name="opt")
        """,
        renames=(
            ("^encoder/(.*)/opt$", r"enc/\1/Adam"),
            ("^encoder/(.*)/opt_1$", r"enc/\1/Adam_1"),
            ("/opt$", "/Adam"),
            ("/opt_1$", "/Adam_1"),
            ("^encoder/", "enc/"),
        ),
        rules=rules({("prefix", "enc", "encoder")}),
        why="enc renamed to encoder, and the same Adam now built with name='opt', so its slots "
        "are <var>/opt and <var>/opt_1 instead of <var>/Adam and <var>/Adam_1. Same optimizer "
        "class, same slot positions on ApplyAdam (m is input 1, v is input 2): the slots are "
        "the same state and should be restored.",
    ),
    Case(
        "keep_old_head_lwf",
        "chain",
        """
        with nets.variables():
            nets.chain(heads=("logits", "old_logits"), classes=(7, 5))
        """,
        renames=(("^old_logits/", "logits/"),),
        fresh=("^logits/",),
        rules=rules({("prefix", "logits", "old_logits")}),
        why="Learning without forgetting: a new 7-class head takes the name logits, and the old "
        "5-class head is kept beside it as old_logits. The name logits now holds a variable of "
        "another shape; old_logits is the only variable that fits logits/* at all.",
    ),
    Case(
        "layers_renumbered",
        "mlp2",
        """
        with nets.variables():
            nets.mlp([("dense", 4), ("dense_1", 8), ("dense_2", 8)])
        """,
        renames=(("^dense_1/", "dense/"), ("^dense_2/", "dense_1/")),
        fresh=("^dense/",),
        rules=rules({("prefix", "dense", "dense_1"), ("prefix", "dense_1", "dense_2")}),
        why="Keras-style automatic names: a 4->4 layer inserted first renumbers the old dense, "
        "dense_1 to dense_1, dense_2. Shapes decide it: the first layer is the only 4->4 one and "
        "nothing in the checkpoint fits it; old dense (4->8) fits only new dense_1. The old "
        "name dense_1/b (shape [8]) is reused by a variable of old dense's layer: the name "
        "must not win.",
    ),
    Case(
        "two_nets_one_renamed",
        "student_teacher",
        """
        with nets.variables():
            with nets.scope("teacher"):
                nets.chain(("enc1", "enc2", "enc3"))
            with nets.scope("student_v2"):
                nets.chain(("enc1", "enc2"))
        """,
        renames=(("^student_v2/", "student/"),),
        rules=rules({("prefix", "student", "student_v2")}),
        why="Two nets (student, teacher, with partly equal names), the student renamed to "
        "student_v2. Its input student_v2/images ends like both old inputs, so it pairs with "
        "neither; yet the student's keys are the only ones left and every shape fits.",
    ),
    Case(
        "ema_inside_moved_scope",
        "chain_ema",
        """
        with nets.variables():
            with nets.scope("model"):
                nets.chain()
                nets.moving_average()
        """,
        renames=(("^model/model/", ""), ("^model/", "")),
        rules=rules({("prefix", "", "model")}),
        why="The net and its ExponentialMovingAverage both built under model/: TensorFlow names "
        "the shadows model/model/<var>/ExponentialMovingAverage (as it does Adam's slots in "
        "training_moved_to_resource). Each shadow is the moving average of its variable (its "
        "AssignMovingAvg reads both) and should follow it.",
    ),
    Case(
        "towers_one_new_head",
        "chain",
        """
        with nets.variables():
            with nets.scope("tower_0"):
                nets.chain()
            with nets.scope("tower_1"):
                nets.chain(classes=7)
        """,
        renames=(("^tower_[01]/", ""),),
        fresh=("^tower_1/logits/",),
        rules=rules({("prefix", "", "tower_0"), ("prefix", "", "tower_1")}),
        why="Two towers from one pretrained net, tower_1 with a 7-class head. tower_1 is a copy "
        "of the old net but for its head: every other variable comes from the same key as "
        "tower_0's, though tower_1's rename is seen less often (its head cannot vote).",
    ),
    Case(
        "towers_one_extra",
        "chain",
        """
        with nets.variables():
            with nets.scope("tower_0"):
                nets.chain()
            with nets.scope("tower_1"):
                nets.chain(("enc1", "enc2", "enc3"))
        """,
        renames=(("^tower_[01]/", ""),),
        fresh=("^tower_1/enc3/",),
        rules=rules({("prefix", "", "tower_0"), ("prefix", "", "tower_1")}),
        why="Two towers from one pretrained net, tower_1 with an extra block appended. Both "
        "towers restore every old variable; only tower_1/enc3 is new. One extra block must not "
        "cost tower_1 its whole restore.",
    ),
    Case(
        "densenet_block_appended_moved",
        "densenet2_adam",
        """
        with nets.variables():
            with nets.scope("model"):
                net = nets.densenet(3)
            nets.train([net])
        """,
        renames=MOVED,
        fresh=("^model/densenet/block3/", "^model/densenet/transition"),
        rules=moved("model"),
        why="A dense block appended (block1, block2 -> block3) and the net moved: block3's "
        "norm reads what transition_bn read, with its shapes, but block3 is a member its "
        "numbered family did not have: new (was: transition_bn restored into it). The "
        "transition's shapes grew: new too.",
    ),
)

CASE_NAMES = tuple(case.name for case in CASES)
assert len(set(CASE_NAMES)) == len(CASES), "case names must be unique"
