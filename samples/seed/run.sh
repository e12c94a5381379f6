#!/usr/bin/env bash
# The seed scenario end to end: train the old graph, plan, render, apply.
#
#   bash samples/seed/run.sh [WORK_DIR]      (default: out/seed under the repository root)
#
# Trains `Input -> A -> B -> Output1` into WORK_DIR/old/ unless a checkpoint is already there,
# then restores it into samples/seed/new_graph.py (the same net plus `A -> C -> Output2`).
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
work="${1:-out/seed}"
python="$(command -v python3 || command -v python)"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"

graphdiff() {  # this checkout's graphdiff, whatever else is on PATH
  echo "+ graphdiff $*" >&2
  "$python" -m graphdiff "$@"
}

if [ -f "$work/old/model.ckpt.index" ]; then
  echo "old checkpoint: $work/old/model.ckpt (already trained; delete $work to retrain)"
else
  mkdir -p "$work/old"
  echo "+ python samples/seed/train_old.py $work/old/model.ckpt" >&2
  if ! "$python" samples/seed/train_old.py "$work/old/model.ckpt" 2>"$work/train.log"; then
    cat "$work/train.log" >&2
    exit 1
  fi
fi

graphdiff plan "$work/old/model.ckpt.meta" samples/seed/new_graph.py \
  -o "$work/plan.json" --output-prefix "$work/new/model.ckpt"
graphdiff render "$work/plan.json" -o "$work/diff.svg" >/dev/null
graphdiff apply "$work/plan.json" --force >/dev/null

cat <<DONE

plan:       $work/plan.json
picture:    $work/diff.svg
checkpoint: $work/new/model.ckpt
  to load it in your own script: build new_graph.py within graphdiff.resolved_shapes(plan),
  then tf.compat.v1.train.Saver().restore (README.md, "Load the result")
DONE
