"""The moonshot: a TF1 BERT checkpoint with Google's names, shapes and pretraining heads into
`keras_hub.models.BertBackbone` of the same size, with no --map and no table of names.

The embedding tables, whose lookups the two implementations wire differently (a one-hot
matmul against a gather, the position table added first or last), pair by their shapes, each
unique among the tables, and by being summed together on both sides (match/lookups.py);
every other variable is placed by the layer walk from there (match/layers.py); attention
kernels are reshaped ([32, 32] -> [32, 4, 8], [32, 32] -> [4, 8, 32]); the pretraining heads,
one of them of the pooler's shape, stay unused. The sequence and pooled outputs of the Keras
model must match the TF1 encoder's on the same tokens, padding included, to 1e-4;
`graphdiff verify --tensor` says so too, and fails when two attention kernels are swapped."""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest
from conftest import run_in_process
from google_bert import KERAS_HUB_BERT, SEQ, VOCAB, encoder_outputs, save_checkpoint
from keras_models import build, load_into, write_model

from graphdiff.apply.executor import apply_plan
from graphdiff.formats.model_variables import keras_variables
from graphdiff.plan import Transform
from graphdiff.plan_io import write_plan
from graphdiff.planning import make_plan


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    """The TF1 checkpoint, the Keras model file and the plan, written (plan.json) and applied."""
    work = tmp_path_factory.mktemp("bert")
    prefix = save_checkpoint(work / "old")
    new_py = write_model(work / "new", KERAS_HUB_BERT)
    out = work / "out.weights.h5"
    plan = make_plan(f"{prefix}.meta", new_py, output_prefix=str(out))
    write_plan(plan, work / "plan.json")
    apply_plan(plan, verify=True)
    return prefix, new_py, out, plan, work


def test_google_bert_checkpoint_into_keras_hub_bert_backbone(bert):
    prefix, new_py, out, plan, _ = bert

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


def verify_sequence_output(work, *extra):
    """`graphdiff verify --tensor` on the sequence output, the inputs paired by hand (the
    names differ) and a padding mask of zeros and ones (generated integers would be 0 to 3)."""
    mask = np.ones((2, SEQ), np.int32)
    mask[1, 5:] = 0
    np.save(work / "mask.npy", mask)
    return run_in_process(
        "verify",
        work / "plan.json",
        "--tensor",
        "sequence_output=bert/sequence_output:0",
        "--input",
        "token_ids=input_ids",
        "--input",
        "padding_mask=input_mask",
        "--feed",
        f"padding_mask={work / 'mask.npy'}",
        "--atol",
        "1e-4",
        *extra,
    )


def test_verify_compares_the_sequence_outputs_within_the_tolerance(bert):
    result = verify_sequence_output(bert[-1])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].startswith("  ~ sequence_output  [2, 8, 32]  within atol=0.0001 rtol=0: ")
    assert (
        lines[1].endswith("(named with --tensor)")
        and lines[2] == "      old: bert/sequence_output:0"
    )
    assert "input padding_mask:0 int32 [2, 8]: " in result.stdout


def test_verify_fails_when_the_query_and_key_kernels_are_swapped(bert, tmp_path):
    _, new_py, out, _, work = bert
    query, key = (f"transformer_layer_0/self_attention_layer/{p}/kernel" for p in ("query", "key"))
    paths = {name: v.stored_at for name, v in keras_variables(build(new_py)).items()}
    swapped = shutil.copy(out, tmp_path / "swapped.weights.h5")
    with h5py.File(swapped, "r+") as file:
        a, b = file[paths[query]][()], file[paths[key]][()]
        file[paths[query]][...], file[paths[key]][...] = b, a

    result = verify_sequence_output(work, "--checkpoint", swapped)
    assert result.returncode == 3, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("graphdiff: sequence_output differs from the old graph's bert/"), line
    assert line.endswith(f"not holding its source's value: {key}, {query}"), line
