"""The Keras samples end to end, as a user runs them: `bash samples/<name>/run.sh WORK_DIR`."""

from __future__ import annotations

import subprocess

from conftest import REPO, cli_env


def run_sample(name: str, work) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(REPO / "samples" / name / "run.sh"), str(work)],
        env=cli_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_keras_seed_sample_restores_a_tf1_checkpoint_into_keras(tmp_path):
    result = run_sample("keras_seed", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "load_weights: 0 warning(s); Output1 differs by at most 0.00e+00" in result.stdout
    assert (tmp_path / "new" / "model.weights.h5").is_file()
    # graphdiff verify: A's output and Output1 computed alike by both, bit for bit
    assert "  = B  [2, 3]  bit for bit\n      old: B/Output1:0\n" in result.stdout
    assert "Verify: 2 identical, 0 within tolerance, 0 differ." in result.stdout


def test_keras_insert_sample_puts_every_layer_where_it_belongs(tmp_path):
    result = run_sample("keras_insert", tmp_path)
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    holds = {row[0]: row[-2:] for row in rows if row and row[0] in ("encoder", "bottleneck")}
    holds |= {row[0]: row[-2:] for row in rows if row and row[0] in ("decoder", "head")}
    assert holds["encoder"] == ["old", "encoder"]
    assert holds["bottleneck"] == ["initialized"] or holds["bottleneck"][-1] == "initialized"
    assert holds["decoder"] == ["old", "decoder"]
    assert holds["head"] == ["old", "head"]
    # graphdiff verify: the decoder and head fed what they read before the bottleneck came
    assert "  = head  [2, 16]  bit for bit (after a cut)\n" in result.stdout
    assert "Verify: 2 identical, 0 within tolerance, 0 differ." in result.stdout
