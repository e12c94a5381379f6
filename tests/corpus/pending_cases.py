"""Matcher corpus cases the matcher gets wrong today: known faults waiting for a fix.

Same structure as cases.py (Case, OLD_GRAPHS, CASES, CASE_NAMES), but pytest does not collect
these, and cases.py does not import this module: the project does not commit a wrong restore as
xfail or skip. Run them with

    python tests/corpus/report.py --pending [CASE...]

Wrong restores first, then missed ones. When the matcher gets a case right, move it (and its old
graph, if it has its own) to cases.py.
"""

from __future__ import annotations

from .cases import OLD_GRAPHS as _CORPUS_OLD_GRAPHS
from .cases import Case, rules

OLD_GRAPHS = {
    **_CORPUS_OLD_GRAPHS,
    "gan": """
        with nets.variables():
            nets.gan()
    """,
    "mlp2": """
        with nets.variables():
            nets.mlp([("dense", 8), ("dense_1", 8)])
    """,
}

_KERNEL = (("^model/(.*)/kernel$", r"\1/weights"), ("^model/", ""))

CASES = (
    # --- wrong restores ------------------------------------------------------------------------
    Case(
        "append_end_renamed",
        "chain",
        """
        with nets.variables():
            nets.chain(("block1", "block2", "extra"))
        """,
        renames=(("^block1/", "enc1/"), ("^block2/", "enc2/")),
        fresh=("^extra/",),
        rules=rules({("prefix", "enc1", "block1"), ("prefix", "enc2", "block2")}),
        why="Mirror image of insert_start_renamed (cases.py): both blocks renamed (enc1, enc2 -> "
        "block1, block2) and a block of the same shapes appended after them. The graph alone "
        "cannot tell where the new block went (three identical blocks where there were two); "
        "the names can: extra is new. Initializing all three with their candidates would also "
        "be right. Restoring extra <- enc2 and block2 <- enc1 is wrong under every reading "
        "but 'inserted at the start', which the names contradict.",
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
        renames=_KERNEL,
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
    # --- missed restores -----------------------------------------------------------------------
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
)

CASE_NAMES = tuple(case.name for case in CASES)
assert len(set(CASE_NAMES)) == len(CASES), "case names must be unique"
