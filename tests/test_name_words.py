"""Words renamed inside a name (graphdiff/match/name_words.py) and how the matcher weighs them.

Plain names in, plain answers out; the matcher corpora (tests/corpus adapter_inserted_word_
renamed_adam, tests/keras_corpus named_chain_*) run the same code on real graphs.
"""

from __future__ import annotations

from collections import Counter

import pytest

from graphdiff.match.chain_names import CountedNames
from graphdiff.match.name_words import apply_word_edit, word_edit
from graphdiff.match.renames import RenameBook, as_rule, rename_edits
from graphdiff.match.rules import describe


@pytest.mark.parametrize(
    ("old", "new", "edit"),
    [
        ("enc_0_fc", "layer_0_fc", ("enc*", "layer*")),
        ("block0_conv", "layer0_conv", ("block*", "layer*")),
        ("model/blk_0_enc", "model/blk_0_dec", ("model/*enc", "model/*dec")),
        ("blk_enc_0", "blk_dec_0", ("*enc*", "*dec*")),
        ("encoder_block_3", "block_3", ("encoder_*", "*")),
    ],
)
def test_a_word_renamed_in_a_numbered_name_is_one_edit_and_applies_both_ways(old, new, edit):
    assert word_edit(old, new) == edit
    assert apply_word_edit(*edit, f"{old}/kernel") == f"{new}/kernel"
    assert apply_word_edit(edit[1], edit[0], f"{new}/kernel") == f"{old}/kernel"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("enc_0_fc", "layer_1_fc"),  # the number changed: a place, not a word
        ("dense_1", "dense_2"),
        ("dense_1", "linear_1"),  # keeps only the count
        ("Mixed_5b", "Mixed_5c"),  # letters that count
        ("cell", "rnn_cell"),  # one scope, no number: a prefix edit
        ("enc_1_fc", "adapter_fc"),
        ("a/enc_0", "b/layer_0"),  # another scope too
    ],
)
def test_no_word_edit_where_a_number_or_the_whole_name_changed(old, new):
    assert word_edit(old, new) is None


def test_rename_edits_give_a_word_edit_for_every_block_alike():
    edits = {rename_edits(f"enc_{i}_fc/kernel", f"layer_{i}_fc/kernel") for i in range(3)}
    assert edits == {(("word", "enc*", "layer*"),)}
    assert rename_edits("enc_0_fc/kernel", "layer_1_fc/kernel") == (
        ("prefix", "enc_0_fc", "layer_1_fc"),
    )


def test_a_word_edit_applies_only_in_its_scope_and_at_its_place():
    assert apply_word_edit("enc*", "layer*", "model/enc_0_fc/kernel") is None
    assert apply_word_edit("enc*", "layer*", "encoder_0_fc/kernel") is None  # another word
    assert apply_word_edit("*enc", "*dec", "enc_0/kernel") is None  # at the start, not the end


def _book(support: Counter, keys, names) -> RenameBook:
    return RenameBook(support, names, keys, fits=lambda name, key: True)


def test_two_words_renamed_into_one_as_often_each_predict_nothing():
    keys = [f"{w}_{i}_fc/kernel" for w in ("enc", "dec") for i in range(3)]
    names = [f"layer_{i}_fc/kernel" for i in range(3)]
    support = Counter({("word", "enc*", "layer*"): 6, ("word", "dec*", "layer*"): 6})
    book = _book(support, keys, names)
    assert book.predict("layer_1_fc/kernel", lambda key: True) is None
    reason = book.contradiction("layer_1_fc/kernel", "enc_1_fc/kernel")
    assert reason is not None and "dec_1_fc/kernel" in reason


def test_the_better_witnessed_word_rename_predicts():
    keys = [f"{w}_{i}_fc/kernel" for w in ("enc", "dec") for i in range(3)]
    names = [f"layer_{i}_fc/kernel" for i in range(3)]
    support = Counter({("word", "enc*", "layer*"): 6, ("word", "dec*", "layer*"): 2})
    book = _book(support, keys, names)
    assert book.predict("layer_1_fc/kernel", lambda key: True) == "enc_1_fc/kernel"


def test_a_word_rename_in_a_numbered_family_that_grew_is_a_position():
    old = [f"enc_{i}_fc/kernel" for i in range(4)]
    same_size = [f"layer_{i}_fc/kernel" for i in range(4)] + ["adapter_fc/kernel"]
    grown = [f"layer_{i}_fc/kernel" for i in range(5)]
    assert not CountedNames(old, same_size).positional("enc_1_fc/kernel", "layer_1_fc/kernel")
    assert CountedNames(old, grown).positional("enc_1_fc/kernel", "layer_1_fc/kernel")


def test_a_word_rename_of_a_counted_name_is_a_position():
    old = ["conv2d/kernel", "conv2d_1/kernel"]
    new = ["my_conv2d/kernel", "my_conv2d_1/kernel"]
    assert CountedNames(old, new).positional("conv2d_1/kernel", "my_conv2d_1/kernel")
    keras_counted = frozenset({"conv2d_1/kernel"})  # Keras named it by counting, alone
    lone = CountedNames(["conv2d_1/kernel"], ["my_conv2d_1/kernel"], keras_counted)
    assert lone.positional("conv2d_1/kernel", "my_conv2d_1/kernel")


def test_a_word_rule_reads_as_its_patterns():
    assert describe(as_rule(("word", "model/enc*", "model/layer*"))) == "model/enc* -> model/layer*"
