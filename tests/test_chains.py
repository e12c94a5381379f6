"""The alignment of two chains of alike blocks with gaps (graphdiff/match/chains.py).

Plain lists in, plain lists out: which old blocks some best alignment gives each new block,
and whether every best alignment agrees. The matcher corpus (tests/corpus, the chain cases)
runs the same code on real TensorFlow graphs.
"""

from __future__ import annotations

from graphdiff.match.chains import _align

OLD = ["o0", "o1", "o2"]


def test_same_length_pairs_in_order_and_settles():
    assert _align(OLD, ["n0", "n1", "n2"], set()) == [
        (["o0"], True),
        (["o1"], True),
        (["o2"], True),
    ]


def test_one_block_added_anywhere_gives_each_new_block_its_two_neighbours():
    places = _align(OLD, ["n0", "n1", "n2", "n3"], set())
    assert [olds for olds, _ in places] == [["o0"], ["o0", "o1"], ["o1", "o2"], ["o2"]]
    assert not any(settled for _, settled in places)


def test_one_block_removed_gives_each_new_block_two_old_ones():
    places = _align(["o0", "o1", "o2", "o3"], ["n0", "n1", "n2"], set())
    assert [olds for olds, _ in places] == [["o0", "o1"], ["o1", "o2"], ["o2", "o3"]]


def test_anchors_pin_the_gap_between_them():
    # n0 = o0 and n3 = o2 by name: of n1 and n2, one is new and the other is o1.
    places = _align(OLD, ["n0", "n1", "n2", "n3"], {(0, 0), (3, 2)})
    assert places == [(["o0"], True), (["o1"], False), (["o1"], False), (["o2"], True)]


def test_a_block_between_adjacent_anchors_is_an_insertion():
    places = _align(["o0", "o1"], ["n0", "extra", "n1"], {(0, 0), (2, 1)})
    assert places[1] == ([], True)


def test_anchors_out_of_order_are_not_one_chain():
    assert _align(OLD, ["n0", "n1", "n2"], {(0, 2), (2, 0)}) is None
