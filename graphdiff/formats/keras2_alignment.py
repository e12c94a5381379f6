"""Pair a tf.keras 2 checkpoint's layers with a changed NEW's, by order and shapes alone.

A TF-format checkpoint names its layers by position (`layer-3`) and their weights by
attribute (`kernel`): no layer names, no graph. When it does not fit NEW layer for layer (a
new head, an inserted layer) and no --old-model gives its architecture, its structure still
says two things: the order of its layers with weights and the shapes of their weights. Both
lists are aligned, as two sequences, keeping the order, a stored layer going only with a layer
of NEW whose weights pair with its own (same number, names or else unique shapes, same
shapes: keras2_pairing.pair_weights). The alignments that pair the most layers are the
candidates; a stored layer is paired only when every one of them pairs it with the same layer
of NEW (no doubt left). Every other stored layer stays unpaired, with why (no layer of NEW
in its place has its shapes, or which layers of NEW it could be), and NEW's layers nothing
pairs with are initialized.

Shapes meet by chance too: another model's checkpoint (MobileNetV2's into EfficientNetB0)
aligns a few layers (a 1280-wide batch norm, a head of as many classes). A changed model keeps
most of its layers, so the alignment is trusted only when its best pairs at least half of the
layers with weights of the checkpoint or of NEW; otherwise nothing is paired, and the plan
says how few lined up.

This is the structure's word only: two layers of one shape in one place (NEW swapped them)
pair by their order. Each paired weight's reason says so, and that --old-model decides.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphdiff.formats.keras2_pairing import (
    Mismatch,
    Pairing,
    StoredLayer,
    add_note,
    pair_weights,
    weights_signature,
)

_PAIRED = (
    "the checkpoint does not fit NEW layer for layer and names its layers by position only: "
    "its {label} was paired with NEW's '{layer}', the one layer every best alignment of the "
    "two lists of layers with weights (in order, by the shapes of their weights) gives it; "
    "give --old-model if the order is not the old model's"
)


@dataclass(frozen=True)
class _Leaf:
    label: str  # `layer-3`, `layer-2/layer-1` in a nested model
    stored: StoredLayer


def align(stored: list[StoredLayer], model) -> tuple[Pairing, str]:
    """The pairing of the stored layers with `model`'s that order and shapes leave no doubt
    about, the other stored weights in `unpaired` with the reason; and what the alignment
    found, for the plan to say."""
    old = list(_stored_leaves(stored, ""))
    new = [layer for layer in _live_leaves(model) if layer.weights]
    fits = _fits(old, new)
    before = _best_prefixes(len(old), len(new), fits)
    after = _best_suffixes(len(old), len(new), fits)
    best = before[len(old)][len(new)]
    found = (
        f"order and shapes line up {best} of its {len(old)} layers with weights with NEW's "
        f"{len(new)}"
    )
    if 2 * best < min(len(old), len(new)):
        found += ": fewer than half of either, so it is not taken to be a version of NEW's model"
        pairing = Pairing()
        for leaf in old:
            for weight in leaf.stored.weights:
                pairing.unpaired[weight.key] = f"the checkpoint does not fit NEW: {found}"
        return pairing, f"{found}; nothing is restored"
    by_rank: dict[int, list[tuple[int, int]]] = {}  # k -> the k-th pairs of best alignments
    for i, j in sorted(fits):
        if before[i][j] + 1 + after[i + 1][j + 1] == best:
            by_rank.setdefault(before[i][j], []).append((i, j))
    sure = dict(pairs[0] for pairs in by_rank.values() if len(pairs) == 1)
    pairing = Pairing()
    for i, leaf in enumerate(old):
        if i in sure:
            layer = new[sure[i]]
            pair_weights(leaf.stored, layer, leaf.label, pairing)
            for weight in leaf.stored.weights:
                add_note(pairing, weight.key, _PAIRED.format(label=leaf.label, layer=layer.name))
            continue
        candidates = [new[j] for pairs in by_rank.values() for k, j in pairs if k == i]
        why = _why_unpaired(leaf, candidates)
        for weight in leaf.stored.weights:
            pairing.unpaired[weight.key] = why
    return pairing, f"{found}, paired where every best alignment agrees"


def _why_unpaired(leaf: _Leaf, candidates: list) -> str:
    start = "the checkpoint does not fit NEW layer for layer and names its layers by position only"
    if not candidates:
        return (
            f"{start}: no layer of NEW with weights of the shapes of its {leaf.label} is in its "
            "place in the order of the layers with weights; give --old-model if one is it"
        )
    names = " or ".join(f"'{layer.name}'" for layer in candidates)
    return (
        f"{start}: its {leaf.label} could be NEW's {names} by order and shapes, or none of "
        "them; left unused rather than guessed (--old-model decides)"
    )


def _stored_leaves(layers: list[StoredLayer], where: str):
    """The stored layers with weights in the order of the layer lists, nested models opened."""
    for layer in layers:
        label = f"{where}{layer.label}"
        if layer.sublayers is not None:
            yield from _stored_leaves(layer.sublayers, f"{label}/")
        elif layer.weights:
            yield _Leaf(label, layer)


def _live_leaves(model) -> list:
    found = []
    for layer in model.layers:
        found.extend(_live_leaves(layer) if hasattr(layer, "layers") else [layer])
    return found


def _fits(old: list[_Leaf], new: list) -> set[tuple[int, int]]:
    """(i, j) where the i-th stored layer's weights pair with those of the j-th of NEW. Many
    layers are alike (every BatchNormalization of a width): each kind is tried once."""
    by_signature: dict[tuple, list[int]] = {}
    for j, layer in enumerate(new):
        by_signature.setdefault(weights_signature(layer), []).append(j)
    found, tried = set(), {}
    for i, leaf in enumerate(old):
        shapes = sorted(tuple(w.spec.shape) for w in leaf.stored.weights)
        stored = tuple((w.name, tuple(w.spec.shape)) for w in leaf.stored.weights)
        for signature, js in by_signature.items():
            if sorted(shape for _, _, shape in signature) != shapes:
                continue
            if (stored, signature) not in tried:
                tried[stored, signature] = _pair(leaf, new[js[0]])
            if tried[stored, signature]:
                found.update((i, j) for j in js)
    return found


def _pair(leaf: _Leaf, layer) -> bool:
    try:
        pair_weights(leaf.stored, layer, leaf.label, Pairing())
    except Mismatch:
        return False
    return True


def _best_prefixes(n: int, m: int, fits: set) -> list[list[int]]:
    """[i][j]: the most layers an alignment of the first i stored and first j of NEW pairs."""
    best = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n):
        for j in range(m):
            paired = best[i][j] + 1 if (i, j) in fits else 0
            best[i + 1][j + 1] = max(best[i][j + 1], best[i + 1][j], paired)
    return best


def _best_suffixes(n: int, m: int, fits: set) -> list[list[int]]:
    """[i][j]: the same for the stored layers from i on and NEW's from j on."""
    best = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            paired = best[i + 1][j + 1] + 1 if (i, j) in fits else 0
            best[i][j] = max(best[i + 1][j], best[i][j + 1], paired)
    return best
