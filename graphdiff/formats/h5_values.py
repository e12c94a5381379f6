"""Read the weights Keras 3 saved: a `.weights.h5`, or the `model.weights.h5` inside a `.keras`.

`H5Values(path)` lists every dataset by its path in the file (`layers/dense_1/vars/0`) with
dtype and shape (`specs()`), and reads one as numpy (`array(path)`). A `.keras` archive is a
zip: its weights file is read from memory. Every fault is a BadInput naming the file.
"""

from __future__ import annotations

import io
import os
import zipfile

import numpy as np

from graphdiff.errors import BadInput
from graphdiff.loading import TensorSpec

ARCHIVE_WEIGHTS = "model.weights.h5"  # where a .keras archive keeps its weights


class H5Values:
    """The datasets of a Keras weights file, by path."""

    num_shards = 1

    def __init__(self, path: str | os.PathLike):
        import h5py

        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            missing = not os.path.exists(self.path)
            raise BadInput(self.path, "no such file" if missing else "is not a file")
        try:
            if self.path.endswith(".keras"):
                self._file = h5py.File(io.BytesIO(_archive_weights(self.path)), "r")
            else:
                self._file = h5py.File(self.path, "r")
        except OSError as error:
            raise BadInput(self.path, f"not a Keras weights file (HDF5): {error}") from None
        if "model_weights" in self._file or "layer_names" in self._file.attrs:
            raise BadInput(
                self.path,
                "a legacy Keras 2 (tf.keras) .h5; graphdiff reads Keras 3 weights: load it into "
                "the model and save it again with Keras 3 (model.save_weights('x.weights.h5'))",
            )
        self._specs = {}
        self._file.visititems(self._collect)

    def _collect(self, name: str, item) -> None:
        import h5py

        if isinstance(item, h5py.Dataset):
            shape = tuple(int(d) for d in item.shape)
            self._specs[name] = TensorSpec(_dtype_name(item.dtype), shape)

    def specs(self) -> dict[str, TensorSpec]:
        return dict(self._specs)

    def array(self, key: str) -> np.ndarray:
        if key not in self._specs:
            raise BadInput(self.path, f"holds no weights at {key!r}")
        return np.asarray(self._file[key][()])

    def close(self) -> None:
        self._file.close()


def _archive_weights(path: str) -> bytes:
    try:
        with zipfile.ZipFile(path) as archive:
            if ARCHIVE_WEIGHTS not in archive.namelist():
                raise BadInput(path, f"a zip without {ARCHIVE_WEIGHTS}: not a Keras 3 .keras file")
            return archive.read(ARCHIVE_WEIGHTS)
    except zipfile.BadZipFile:
        raise BadInput(path, "not a .keras file (not a zip archive)") from None


def _dtype_name(dtype) -> str:
    if dtype.kind in "SUO":
        return "string"
    name = np.dtype(dtype).name
    return "bfloat16" if name.startswith("|V2") else name
