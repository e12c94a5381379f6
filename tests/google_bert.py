"""A small BERT as Google's TF1 `modeling.py` and `run_pretraining.py` build it: the same
variable names and shapes, the same ops (2-D dense layers, attention by reshape + transpose +
matmul, a one-hot token-type lookup, tanh GELU, contrib-style layer norm), the pooler and the
pretraining heads (`cls/predictions`, `cls/seq_relationship`: the decoys beside the backbone).

`save_checkpoint(dir)` builds it in a graph, gives every variable random values (so that a
bias or a layer norm restored into the wrong place shows in the output) and saves it with its
`.meta`; `encoder_outputs(prefix, ...)` runs the encoder restored from a checkpoint and gives
its sequence and pooled outputs.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from graphdiff.tf_import import tensorflow

tf = tensorflow()
v1 = tf.compat.v1

VOCAB, HIDDEN, LAYERS, HEADS, INTERMEDIATE, MAX_POSITIONS, TYPES = 100, 32, 2, 4, 64, 16, 2
SEQ, PREDICTIONS = 8, 3

KERAS_HUB_BERT = f"""
import keras_hub


def build_model():
    return keras_hub.models.BertBackbone(
        vocabulary_size={VOCAB}, num_layers={LAYERS}, num_heads={HEADS}, hidden_dim={HIDDEN},
        intermediate_dim={INTERMEDIATE}, max_sequence_length={MAX_POSITIONS},
        num_segments={TYPES}, dropout=0.0,
    )
"""


def _initializer():
    return v1.truncated_normal_initializer(stddev=0.02)


def dense(x, units, name, activation=None):
    with v1.variable_scope(name):
        kernel = v1.get_variable("kernel", [int(x.shape[-1]), units], initializer=_initializer())
        bias = v1.get_variable("bias", [units], initializer=v1.zeros_initializer())
        out = tf.nn.bias_add(tf.matmul(x, kernel), bias)
        return activation(out) if activation else out


def gelu(x):
    cdf = 0.5 * (1.0 + tf.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * tf.pow(x, 3))))
    return x * cdf


def layer_norm(x, name="LayerNorm"):
    with v1.variable_scope(name):
        beta = v1.get_variable("beta", [HIDDEN], initializer=v1.zeros_initializer())
        gamma = v1.get_variable("gamma", [HIDDEN], initializer=v1.ones_initializer())
        mean, variance = tf.nn.moments(x, [-1], keepdims=True)
        return tf.nn.batch_normalization(x, mean, variance, beta, gamma, 1e-12)


def attention(x2d, mask, batch, seq):
    def heads(t):
        return tf.transpose(tf.reshape(t, [batch, seq, HEADS, HIDDEN // HEADS]), [0, 2, 1, 3])

    with v1.variable_scope("self"):
        query = heads(dense(x2d, HIDDEN, "query"))
        key = heads(dense(x2d, HIDDEN, "key"))
        value = heads(dense(x2d, HIDDEN, "value"))
    scores = tf.matmul(query, key, transpose_b=True) * (1.0 / math.sqrt(HIDDEN // HEADS))
    scores += (1.0 - tf.expand_dims(mask, 1)) * -10000.0
    context = tf.matmul(tf.nn.softmax(scores), value)
    return tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [batch * seq, HIDDEN])


def bert(input_ids, input_mask, segment_ids):
    batch, seq = tf.shape(input_ids)[0], SEQ
    with v1.variable_scope("bert"):
        with v1.variable_scope("embeddings"):
            table = v1.get_variable("word_embeddings", [VOCAB, HIDDEN], initializer=_initializer())
            output = tf.gather(table, input_ids)
            types = v1.get_variable("token_type_embeddings", [TYPES, HIDDEN])
            one_hot = tf.one_hot(tf.reshape(segment_ids, [-1]), depth=TYPES)
            output += tf.reshape(tf.matmul(one_hot, types), [batch, seq, HIDDEN])
            positions = v1.get_variable("position_embeddings", [MAX_POSITIONS, HIDDEN])
            output += tf.reshape(tf.slice(positions, [0, 0], [seq, -1]), [1, seq, HIDDEN])
            output = layer_norm(output)
        mask = tf.cast(tf.reshape(input_mask, [batch, 1, seq]), tf.float32)
        mask = tf.ones([batch, seq, 1]) * mask
        layer_input = tf.reshape(output, [batch * seq, HIDDEN])
        with v1.variable_scope("encoder"):
            for index in range(LAYERS):
                with v1.variable_scope(f"layer_{index}"):
                    with v1.variable_scope("attention"):
                        context = attention(layer_input, mask, batch, seq)
                        with v1.variable_scope("output"):
                            attended = layer_norm(dense(context, HIDDEN, "dense") + layer_input)
                    with v1.variable_scope("intermediate"):
                        hidden = dense(attended, INTERMEDIATE, "dense", gelu)
                    with v1.variable_scope("output"):
                        layer_input = layer_norm(dense(hidden, HIDDEN, "dense") + attended)
        sequence = tf.reshape(layer_input, [batch, seq, HIDDEN], name="sequence_output")
        with v1.variable_scope("pooler"):
            pooled = dense(tf.squeeze(sequence[:, 0:1, :], axis=1), HIDDEN, "dense", tf.tanh)
    return sequence, pooled


def pretraining_heads(sequence, pooled, positions):
    """cls/predictions (masked LM, output weights tied to word_embeddings) and
    cls/seq_relationship (next sentence), as run_pretraining.py builds them."""
    with v1.variable_scope("bert/embeddings", reuse=True):
        table = v1.get_variable("word_embeddings")
    batch = tf.shape(sequence)[0]
    flat = tf.reshape(sequence, [-1, HIDDEN])
    offsets = tf.reshape(tf.range(batch) * SEQ, [-1, 1])
    picked = tf.gather(flat, tf.reshape(positions + offsets, [-1]))
    with v1.variable_scope("cls/predictions"):
        with v1.variable_scope("transform"):
            picked = layer_norm(dense(picked, HIDDEN, "dense", gelu))
        bias = v1.get_variable("output_bias", [VOCAB], initializer=v1.zeros_initializer())
        masked_lm = tf.nn.bias_add(tf.matmul(picked, table, transpose_b=True), bias)
    with v1.variable_scope("cls/seq_relationship"):
        weights = v1.get_variable("output_weights", [2, HIDDEN], initializer=_initializer())
        bias = v1.get_variable("output_bias", [2], initializer=v1.zeros_initializer())
        next_sentence = tf.nn.bias_add(tf.matmul(pooled, weights, transpose_b=True), bias)
    return masked_lm, next_sentence


def _inputs():
    ids = v1.placeholder(tf.int32, [None, SEQ], name="input_ids")
    mask = v1.placeholder(tf.int32, [None, SEQ], name="input_mask")
    segments = v1.placeholder(tf.int32, [None, SEQ], name="segment_ids")
    return ids, mask, segments


def save_checkpoint(directory: Path, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    graph = tf.Graph()
    with graph.as_default():
        ids, mask, segments = _inputs()
        positions = v1.placeholder(tf.int32, [None, PREDICTIONS], name="masked_lm_positions")
        sequence, pooled = bert(ids, mask, segments)
        pretraining_heads(sequence, pooled, positions)
        saver = v1.train.Saver()
        with v1.Session() as session:
            for variable in v1.global_variables():
                shape = variable.shape.as_list()
                value = rng.normal(scale=0.2, size=shape) + (variable.op.name.endswith("gamma"))
                variable.load(value.astype(np.float32), session)
            directory.mkdir(parents=True, exist_ok=True)
            return saver.save(session, str(directory / "bert_model.ckpt"))


def encoder_outputs(prefix: str, ids, mask, segments) -> tuple[np.ndarray, np.ndarray]:
    """(sequence output, pooled output) of the TF1 encoder restored from `prefix`."""
    graph = tf.Graph()
    with graph.as_default():
        inputs = _inputs()
        outputs = bert(*inputs)
        with v1.Session() as session:
            v1.train.Saver().restore(session, prefix)
            return session.run(outputs, dict(zip(inputs, (ids, mask, segments), strict=True)))
