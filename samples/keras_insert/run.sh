#!/usr/bin/env bash
# A Keras 3 model with a layer inserted: old .weights.h5 into the new model, layer by layer.
#
#   bash samples/keras_insert/run.sh [WORK_DIR]      (default: out/keras_insert under the repository)
#
# Trains the old model into WORK_DIR/old.weights.h5 unless it is there, plans and applies into
# new_model.py, then shows what Keras's load_weights and graphdiff each put into every layer, and
# runs both models on the same inputs (graphdiff verify).
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
mkdir -p "${1:-out/keras_insert}"
work="$(cd "${1:-out/keras_insert}" && pwd)"
here=samples/keras_insert
python="$(command -v python3 || command -v python)"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}" KERAS_BACKEND=tensorflow

graphdiff() {  # this checkout's graphdiff, whatever else is on PATH
  echo "+ graphdiff $*" >&2
  "$python" -m graphdiff "$@"
}

if [ -f "$work/old.weights.h5" ]; then
  echo "old weights: $work/old.weights.h5 (already trained; delete it to retrain)"
else
  echo "+ python $here/train_old.py $work/old.weights.h5" >&2
  (cd "$here" && "$python" train_old.py "$work/old.weights.h5" 2>"$work/train.log") \
    || { cat "$work/train.log" >&2; exit 1; }
fi

graphdiff plan "$work/old.weights.h5" "$here/new_model.py" --old-model "$here/old_model.py" \
  -o "$work/plan.json" --output-prefix "$work/new/model.weights.h5"
graphdiff apply "$work/plan.json" --force --verify >/dev/null
(cd "$here" && "$python" compare.py "$work/old.weights.h5" "$work/new/model.weights.h5" 2>/dev/null)
echo
graphdiff verify "$work/plan.json"

cat <<DONE

plan:    $work/plan.json
weights: $work/new/model.weights.h5  (model.load_weights(...) in $here/new_model.py)
DONE
