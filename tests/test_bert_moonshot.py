"""The moonshot: a TF1 BERT checkpoint with Google's names, shapes and pretraining heads into
`keras_hub.models.BertBackbone` of the same size, with two --map lines (the embedding tables,
whose lookups the two implementations wire differently) and no table of names.

Every other variable is placed by the layer walk (match/layers.py); attention kernels are
reshaped ([32, 32] -> [32, 4, 8], [32, 32] -> [4, 8, 32]); the pretraining heads, one of them
of the pooler's shape, stay unused. The sequence output of the Keras model must match the TF1
encoder's on the same tokens, padding included, to 1e-4.
"""

from __future__ import annotations

import numpy as np
from google_bert import KERAS_HUB_BERT, SEQ, VOCAB, save_checkpoint, sequence_output
from keras_models import load_into, write_model

from graphdiff.apply.executor import apply_plan
from graphdiff.plan import Options, Transform
from graphdiff.planning import make_plan

MAPS = (
    "bert/embeddings/word_embeddings=token_embedding/embeddings",
    "bert/embeddings/position_embeddings=position_embedding/embeddings",
)


def test_google_bert_checkpoint_into_keras_hub_bert_backbone(tmp_path):
    prefix = save_checkpoint(tmp_path / "old")
    new_py = write_model(tmp_path / "new", KERAS_HUB_BERT)
    out = tmp_path / "out.weights.h5"
    plan = make_plan(f"{prefix}.meta", new_py, output_prefix=str(out), options=Options(maps=MAPS))

    assert not plan.initialized
    sources = {e.name: e.source for e in plan.variables}
    for layer in (0, 1):
        new, old = f"transformer_layer_{layer}/", f"bert/encoder/layer_{layer}/"
        for part in ("query", "key", "value"):
            kernel = plan.entry(f"{new}self_attention_layer/{part}/kernel")
            assert kernel.source == f"{old}attention/self/{part}/kernel"
            assert kernel.transforms == (Transform("reshape", (32, 4, 8)),)
        assert sources[f"{new}self_attention_layer_norm/gamma"] == (
            f"{old}attention/output/LayerNorm/gamma"
        )
        assert sources[f"{new}feedforward_layer_norm/beta"] == f"{old}output/LayerNorm/beta"
    assert sources["pooled_dense/kernel"] == "bert/pooler/dense/kernel"
    assert sources["segment_embedding/embeddings"] == "bert/embeddings/token_type_embeddings"
    assert {u.key for u in plan.unused} == {
        "cls/predictions/output_bias",
        "cls/predictions/transform/LayerNorm/beta",
        "cls/predictions/transform/LayerNorm/gamma",
        "cls/predictions/transform/dense/bias",
        "cls/predictions/transform/dense/kernel",
        "cls/seq_relationship/output_bias",
        "cls/seq_relationship/output_weights",
    }
    apply_plan(plan, verify=True)

    rng = np.random.default_rng(3)
    ids = rng.integers(0, VOCAB, (3, SEQ)).astype(np.int32)
    segments = rng.integers(0, 2, (3, SEQ)).astype(np.int32)
    mask = np.ones((3, SEQ), np.int32)
    mask[1, 5:], mask[2, 3:] = 0, 0
    model = load_into(new_py, out)
    inputs = {"token_ids": ids, "segment_ids": segments, "padding_mask": mask}
    keras_output = model(inputs, training=False)["sequence_output"].numpy()
    difference = np.abs(keras_output - sequence_output(prefix, ids, mask, segments)).max()
    assert difference < 1e-4, difference
