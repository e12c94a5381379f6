"""The moonshot: a TF1 BERT checkpoint with Google's names, shapes and pretraining heads into
`keras_hub.models.BertBackbone` of the same size, with no --map and no table of names.

The embedding tables, whose lookups the two implementations wire differently (a one-hot
matmul against a gather, the position table added first or last), pair by their shapes, each
unique among the tables, and by being summed together on both sides (match/lookups.py);
every other variable is placed by the layer walk from there (match/layers.py); attention
kernels are reshaped ([32, 32] -> [32, 4, 8], [32, 32] -> [4, 8, 32]); the pretraining
heads, one of them of the pooler's shape, stay unused. The sequence and pooled outputs of the
Keras model must match the TF1 encoder's on the same tokens, padding included, to 1e-4.
"""

from __future__ import annotations

import numpy as np
from google_bert import KERAS_HUB_BERT, SEQ, VOCAB, encoder_outputs, save_checkpoint
from keras_models import load_into, write_model

from graphdiff.apply.executor import apply_plan
from graphdiff.plan import Transform
from graphdiff.planning import make_plan


def test_google_bert_checkpoint_into_keras_hub_bert_backbone(tmp_path):
    prefix = save_checkpoint(tmp_path / "old")
    new_py = write_model(tmp_path / "new", KERAS_HUB_BERT)
    out = tmp_path / "out.weights.h5"
    plan = make_plan(f"{prefix}.meta", new_py, output_prefix=str(out))

    assert not plan.initialized
    sources = {e.name: e.source for e in plan.variables}
    assert sources["token_embedding/embeddings"] == "bert/embeddings/word_embeddings"
    assert sources["position_embedding/embeddings"] == "bert/embeddings/position_embeddings"
    assert not plan.rules
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
    keras_outputs = model(inputs, training=False)
    sequence, pooled = encoder_outputs(prefix, ids, mask, segments)
    for name, tf1_output in (("sequence_output", sequence), ("pooled_output", pooled)):
        difference = np.abs(keras_outputs[name].numpy() - tf1_output).max()
        assert difference < 1e-4, (name, difference)
