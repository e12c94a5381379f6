#!/usr/bin/env bash
# The seed story in Keras 3: a TF1 checkpoint of `Input -> A -> B -> Output1` restored into a
# Keras 3 functional model that also has `A -> C -> Output2`.
#
#   bash samples/keras_seed/run.sh [WORK_DIR]      (default: out/keras_seed under the repository)
#
# Trains the seed's old TF1 graph into WORK_DIR/old/ unless a checkpoint is already there,
# plans and applies into samples/keras_seed/new_model.py, then checks Output1 against TF1, by hand
# (check.py) and with graphdiff verify.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
work="${1:-out/keras_seed}"
python="$(command -v python3 || command -v python)"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}" KERAS_BACKEND=tensorflow

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

graphdiff plan "$work/old/model.ckpt.meta" samples/keras_seed/new_model.py \
  -o "$work/plan.json" --output-prefix "$work/new/model.weights.h5"
graphdiff apply "$work/plan.json" --force --verify >/dev/null
"$python" samples/keras_seed/check.py "$work/old/model.ckpt" "$work/new/model.weights.h5" 2>/dev/null
graphdiff verify "$work/plan.json"

cat <<DONE

plan:    $work/plan.json
weights: $work/new/model.weights.h5  (model.load_weights(...) in samples/keras_seed/new_model.py)
DONE
