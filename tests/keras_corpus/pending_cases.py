"""Runs of the Keras corpus the matcher does not get right yet: the matcher team's target.

A run is `case[kind]` (cases.py). Each entry says, in one line, what the plan does wrong on
main today, and starts with its kind of fault:

- `WRONG`: the plan restores a tensor into a variable it does not belong to. pytest does not
  run these (the project does not commit a known wrong restore as xfail or skip);
- `MISSES`: nothing is restored wrongly, some variables are left initialized. pytest still
  plans these (unless slow) and fails if one of them ever restores something wrongly: a
  change that turns a miss into a guess is caught.

    python3 tests/keras_corpus/report.py --pending

When a run comes out exact (no wrong restore, nothing missed), report.py says so: delete its
line here and the collected test (tests/test_keras_matcher_corpus.py) requires it exact.
"""

from __future__ import annotations

_INSERTED_TANH_CONV = (
    "MISSES: old conv2d_1 (relu) left 'fits here and at conv2d_1 alike' though the inserted "
    "conv is tanh; the old relu conv is the new conv2d_2"
)
_ROOT_TO_SEQUENTIAL = (
    "WRONG: inferred rule (root)/ -> sequential/ turns the archive's positional conv2d_1 into "
    "an identity: old conv2d_1 restored into the inserted conv, the real one left"
)
_SEQUENTIAL_TO_ROOT = (
    "WRONG: inferred rule sequential/ -> (root)/ sends old sequential/conv2d_1 into the "
    "inserted conv2d_1; conv2d_2 (its real place) left"
)
_BN_BLOCK = (
    "MISSES: conv2d_1 + batch_normalization_1 (5 vars) left as 'fits alike' though the "
    "inserted block ends in ReLU6 and the old one in ReLU"
)
_TANH = "MISSES: issue 15's case: old relu dense_1 left 'fits alike', not given to the relu dense_2"
_HEAD_BESIDE = (
    "MISSES: old head dense_1 left 'fits here and at dense_2 alike'; the aux head is made "
    "after every old layer (shifts no name) and is output 1: dense_1 is the old head"
)
_HEADS_BY_ACT = (
    "WRONG: heads restored by name (dense_1 -> dense_1): a sigmoid head into the softmax one "
    "and back; the activations veto the names"
)
_HEADS_SAME = (
    "WRONG: two identical heads made in the other order restored by name; names (positions) "
    "and output order disagree: both must be initialized, candidates listed"
)
_REORDERED = (
    "WRONG: relu and tanh layers swapped: dense (relu [8,16]) restored into the tanh layer "
    "and dense_1 into the relu one by name and shape; the activations veto both"
)
_SAME_NAME = (
    "WRONG: chosen name 'proj' reused by a new layer on input y: old proj restored into it; "
    "'stem' (old proj's place, both walks agree) left"
)

_NESTED = (
    "MISSES: inner model renamed, sigmoid dense inserted: old relu dense_1 left 'fits alike' "
    "with the sigmoid dense_1; it is the relu dense_2"
)
_CONV1X1 = (
    "MISSES: old conv2d_1 (3x3, the only 3x3 of its shape) left 'rename seen nowhere else'; "
    "its BN (batch_normalization_1 -> _2) left 'fits alike' with the 1x1 conv's BN"
)
_TWIN = (
    "WRONG, layer split: old predictions' kernel restored into the inserted relu dense_1 "
    "(structure), its bias into the reshaped predictions (name); both must be initialized"
)
_REMOVED = (
    "WRONG: relu dense_1 removed; old relu dense_1 restored by name into the linear head "
    "(now dense_1); the head is old dense_2 (linear, output)"
)
_SEPARABLE = (
    "MISSES: old relu separable_conv2d (3 vars) left 'fits alike' with the inserted tanh one"
)
_SIGMOID_HEAD = (
    "MISSES: old linear head dense_1 left 'fits alike' with the new sigmoid dense_1; it is "
    "the linear dense_2"
)
_ELU = "MISSES: old relu dense_1 left 'fits alike' with the inserted elu dense_1; it is dense_2"
_INCEPTION = (
    "WRONG: every counted name shifted by one; 6 kernels of the mixed blocks' parallel "
    "branches restored by name (old conv2d_36 into new conv2d_36, which is old conv2d_35's "
    "layer), 28 variables left 'fits alike'; the concat's input order tells the branches apart"
)
_BRANCHES = (
    "MISSES: the two alike 1x1 branches (4 vars) left 'fits alike' after the shift; the "
    "concat's input order says which is which"
)
_ACT_LAYERS = (
    "MISSES: old dense_1 (a ReLU layer after it) left 'fits alike' with the inserted dense_1 "
    "(a tanh Activation layer after it)"
)
_PRELU = (
    "MISSES: old dense_1 left 'fits alike' with the inserted dense (LeakyReLU after it, not PReLU)"
)
_RESIDUAL = (
    "MISSES: the old residual block's convs (relu, then Add + ReLU) left 'fits alike' with "
    "the inserted block's (elu, then Add + ELU)"
)
_LAYERNORM = (
    "MISSES: old gelu dense_1 and its LayerNorm left 'fits alike' with the inserted silu "
    "dense + LayerNorm"
)
_SHIFTED_CHAIN = (
    "MISSES: every name shifted by a dense made first; the alike relu dense_1, dense_2 left "
    "'fits alike' though the chain after d0 (unique shape) places them"
)

PENDING: dict[str, str] = {
    "seq_cnn_conv_inserted[weights.h5]": _INSERTED_TANH_CONV,
    "seq_cnn_conv_inserted[keras]": _ROOT_TO_SEQUENTIAL,
    "seq_cnn_conv_inserted[keras+py]": _INSERTED_TANH_CONV,
    "seq_cnn_conv_inserted[tf2]": _INSERTED_TANH_CONV,
    "seq_to_functional_inserted[weights.h5]": _SEQUENTIAL_TO_ROOT,
    "seq_to_functional_inserted[keras]": (
        "MISSES: old conv2d_1 left 'fits alike' though the inserted conv is linear + BN"
    ),
    "seq_to_functional_inserted[tf2]": _SEQUENTIAL_TO_ROOT,
    "seq_cnn_identical_conv_inserted[keras]": (
        "WRONG: rule (root)/ -> sequential/ restores old conv2d_1 into new conv2d_1 of two "
        "identical contenders, no candidates listed"
    ),
    "bn_block_inserted[weights.h5]": _BN_BLOCK,
    "bn_block_inserted[keras]": (
        "WRONG: rule (root)/ -> sequential/ puts old conv2d_1 + batch_normalization_1 into "
        "the inserted block; the real ones left"
    ),
    "bn_block_inserted[tf2]": _BN_BLOCK,
    "nobias_conv_inserted[weights.h5]": (
        "MISSES: old conv2d_2 (stride 2) left 'fits alike'; the inserted conv has stride 1"
    ),
    "nobias_conv_inserted[tf2]": (
        "MISSES: old conv2d_2 (stride 2) left 'fits alike'; the inserted conv has stride 1"
    ),
    "tanh_between_relus[weights.h5]": _TANH,
    "tanh_between_relus[keras]": _TANH,
    "tanh_between_relus[tf2]": _TANH,
    "new_head_beside[weights.h5]": _HEAD_BESIDE,
    "new_head_beside[keras]": _HEAD_BESIDE,
    "new_head_beside[tf2]": _HEAD_BESIDE,
    "tf1_mlp_into_sequential_inserted[tf1]": (
        "WRONG: fc2 (relu) restored into the inserted tanh dense_1; dense_2 and the logits "
        "dense_3 left unmatched"
    ),
    "heads_swapped_by_activation[weights.h5]": _HEADS_BY_ACT,
    "heads_swapped_by_activation[keras]": _HEADS_BY_ACT,
    "heads_swapped_by_activation[tf2]": _HEADS_BY_ACT,
    "heads_identical_made_swapped[weights.h5]": _HEADS_SAME,
    "heads_identical_made_swapped[keras]": _HEADS_SAME,
    "heads_identical_made_swapped[tf2]": _HEADS_SAME,
    "layers_reordered[weights.h5]": _REORDERED,
    "layers_reordered[keras]": _REORDERED,
    "layers_reordered[tf2]": _REORDERED,
    "same_name_other_role[weights.h5]": _SAME_NAME,
    "same_name_other_role[keras]": _SAME_NAME,
    "same_name_other_role[tf2]": _SAME_NAME,
    "nested_functional_renamed_inserted[weights.h5]": _NESTED,
    "nested_functional_renamed_inserted[keras]": _NESTED,
    "nested_functional_renamed_inserted[tf2]": _NESTED,
    "conv1x1_bn_block_inserted[weights.h5]": _CONV1X1,
    "conv1x1_bn_block_inserted[tf2]": _CONV1X1,
    "classifier_reshaped_beside_its_twin[weights.h5]": _TWIN,
    "classifier_reshaped_beside_its_twin[keras]": _TWIN,
    "classifier_reshaped_beside_its_twin[tf2]": _TWIN,
    "tf1_convnet_into_functional_inserted[tf1]": (
        "WRONG: conv2 (relu) restored into the inserted tanh conv2d_1; conv2d_2 and the "
        "logits dense left unmatched"
    ),
    "hidden_layer_removed[weights.h5]": _REMOVED,
    "hidden_layer_removed[keras]": (
        "MISSES, layer split: dense's kernel restored, its bias and the head (old dense_2) "
        "left 'several checkpoint variables fit the same place'"
    ),
    "hidden_layer_removed[tf2]": _REMOVED,
    "nested_seq_into_sequential_conv_inserted[weights.h5]": _INSERTED_TANH_CONV,
    "nested_seq_into_sequential_conv_inserted[keras]": _ROOT_TO_SEQUENTIAL,
    "nested_seq_into_sequential_conv_inserted[tf2]": _INSERTED_TANH_CONV,
    "subclassed_block_inserted_in_list[weights.h5]": (
        "MISSES: old relu dense_1 (blocks[1]) left 'fits here and at dense_3 alike' though "
        "dense_3 is the inserted tanh block"
    ),
    "separable_conv_inserted[weights.h5]": _SEPARABLE,
    "separable_conv_inserted[keras]": (
        "WRONG: rule (root)/ -> sequential/ puts old separable_conv2d (3 vars) into the "
        "inserted tanh one; separable_conv2d_1 (its place) left"
    ),
    "separable_conv_inserted[tf2]": _SEPARABLE,
    "new_sigmoid_head_beside[weights.h5]": _SIGMOID_HEAD,
    "new_sigmoid_head_beside[keras]": _SIGMOID_HEAD,
    "new_sigmoid_head_beside[tf2]": _SIGMOID_HEAD,
    "tf1_layers_names_into_keras_inserted[tf1]": (
        "WRONG: TF1 names made by counting (tf.layers' dense_1) taken as identities: old relu "
        "dense_1 restored by name into the inserted tanh dense_1; dense_2, dense_3 left"
    ),
    "seq_built_by_shape_dense_inserted[weights.h5]": _ELU,
    "seq_built_by_shape_dense_inserted[keras]": (
        "WRONG: rule (root)/ -> sequential/ puts old dense_1 (relu) into the inserted elu "
        "dense_1; dense_2 and the head dense_3 left"
    ),
    "seq_built_by_shape_dense_inserted[tf2]": _ELU,
    "inceptionv3_stem_conv_made_first[weights.h5]": _INCEPTION,
    "inceptionv3_stem_conv_made_first[keras]": _INCEPTION,
    "parallel_branches_names_shifted[weights.h5]": _BRANCHES,
    "parallel_branches_names_shifted[keras]": _BRANCHES,
    "parallel_branches_names_shifted[tf2]": _BRANCHES,
    "activation_layers_dense_inserted[weights.h5]": _ACT_LAYERS,
    "activation_layers_dense_inserted[keras]": (
        "WRONG: rule (root)/ -> sequential/ puts old dense_1 (ReLU after it) into the inserted "
        "dense_1 (tanh after it); dense_2 and the head dense_3 left"
    ),
    "activation_layers_dense_inserted[tf2]": _ACT_LAYERS,
    "prelu_block_inserted[weights.h5]": _PRELU,
    "prelu_block_inserted[keras]": _PRELU,
    "prelu_block_inserted[tf2]": _PRELU,
    "residual_block_inserted[weights.h5]": _RESIDUAL,
    "residual_block_inserted[keras]": _RESIDUAL,
    "residual_block_inserted[tf2]": _RESIDUAL,
    "layernorm_block_inserted[weights.h5]": _LAYERNORM,
    "layernorm_block_inserted[keras]": _LAYERNORM,
    "layernorm_block_inserted[tf2]": _LAYERNORM,
    "every_name_shifted_chain[weights.h5]": _SHIFTED_CHAIN,
    "every_name_shifted_chain[keras]": _SHIFTED_CHAIN,
    "every_name_shifted_chain[tf2]": _SHIFTED_CHAIN,
}

WRONG = "WRONG"
MISSES = "MISSES"


def fault(run: str) -> str | None:
    """WRONG or MISSES for a pending run (what its line starts with), None if not pending."""
    if run not in PENDING:
        return None
    return WRONG if PENDING[run].startswith(WRONG) else MISSES
