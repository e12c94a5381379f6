"""Read the weights Keras 3 saved: a `.weights.h5`, or the `model.weights.h5` inside a `.keras`.

`H5Values(path)` lists every dataset by its path in the file (`layers/dense_1/vars/0`) with
dtype and shape (`specs()`), and reads one as numpy (`array(path)`). A `.keras` archive is a
zip: its weights file, stored uncompressed as Keras writes it, is read in place through a
window on the archive (no copy in memory, however large); a compressed one is read into
memory unless it claims far more than it stores (a decompression bomb, refused as Keras
refuses it). Every fault is a BadInput naming the file.
"""

from __future__ import annotations

import io
import os
import struct
import zipfile

import numpy as np

from graphdiff.errors import BadInput
from graphdiff.loading import TensorSpec

ARCHIVE_WEIGHTS = "model.weights.h5"  # where a .keras archive keeps its weights
BOMB_FLOOR = 1 << 28  # a compressed member may claim this much whatever its ratio (256 MiB)
BOMB_RATIO = 100  # beyond the floor, more than this many times its stored size is a bomb
LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, ..., file name length, extra length


class H5Values:
    """The datasets of a Keras weights file, by path."""

    num_shards = 1

    def __init__(self, path: str | os.PathLike, legacy: bool = False):
        import h5py

        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            missing = not os.path.exists(self.path)
            raise BadInput(self.path, "no such file" if missing else "is not a file")
        self._raw = _archive_weights(self.path) if self.path.endswith(".keras") else None
        try:
            self._file = h5py.File(self._raw if self._raw is not None else self.path, "r")
        except OSError as error:
            if self._raw is not None:
                self._raw.close()
            raise BadInput(self.path, f"not a Keras weights file (HDF5): {error}") from None
        is_legacy = "model_weights" in self._file or "layer_names" in self._file.attrs
        if is_legacy != legacy:
            self.close()
            fault = (
                "a legacy tf.keras 2 .h5, read as Keras 3 weights (the plan says so): make "
                "the plan again"
                if is_legacy
                else "not a tf.keras 2 .h5 (no layer_names): Keras 3 weights are a .weights.h5"
            )
            raise BadInput(self.path, fault)
        self._specs = {}
        try:
            self._file.visititems(self._collect)
        except (OSError, RuntimeError, KeyError) as error:  # a damaged object table
            self.close()
            raise BadInput(self.path, f"a damaged HDF5 file: {error}") from None

    def _collect(self, name: str, item) -> None:
        import h5py

        if isinstance(item, h5py.Dataset):
            shape = tuple(int(d) for d in item.shape)
            self._specs[name] = TensorSpec(_dtype_name(item.dtype), shape)

    def specs(self) -> dict[str, TensorSpec]:
        return dict(self._specs)

    def h5_file(self):
        """The open h5py.File (closed by close())."""
        return self._file

    def array(self, key: str) -> np.ndarray:
        if key not in self._specs:
            raise BadInput(self.path, f"holds no weights at {key!r}")
        try:
            return np.asarray(self._file[key][()])
        except (OSError, RuntimeError, ValueError) as error:  # a truncated or damaged file
            raise BadInput(self.path, f"cannot read {key!r}: {error}") from None

    def close(self) -> None:
        self._file.close()
        if self._raw is not None:
            self._raw.close()


def _archive_weights(path: str):
    """A file object for the archive's weights: a window on it, or (compressed) its bytes."""
    try:
        with zipfile.ZipFile(path) as archive:
            if ARCHIVE_WEIGHTS not in archive.namelist():
                raise BadInput(path, f"a zip without {ARCHIVE_WEIGHTS}: not a Keras 3 .keras file")
            info = archive.getinfo(ARCHIVE_WEIGHTS)
            if info.compress_type == zipfile.ZIP_STORED:
                return _Window(path, _data_offset(path, info), info.file_size)
            if info.file_size > max(BOMB_FLOOR, BOMB_RATIO * info.compress_size):
                raise BadInput(
                    path,
                    f"its {ARCHIVE_WEIGHTS} claims {info.file_size} bytes from "
                    f"{info.compress_size} stored: a decompression bomb, not read",
                )
            return io.BytesIO(archive.read(ARCHIVE_WEIGHTS))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as error:
        raise BadInput(path, f"not a .keras file (a damaged zip archive: {error})") from None


def _data_offset(path: str, info: zipfile.ZipInfo) -> int:
    with open(path, "rb") as file:
        file.seek(info.header_offset)
        header = file.read(LOCAL_HEADER.size)
    if len(header) < LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
        raise BadInput(path, f"not a .keras file (a damaged zip archive at {ARCHIVE_WEIGHTS})")
    _, name_length, extra_length = LOCAL_HEADER.unpack(header)
    return info.header_offset + LOCAL_HEADER.size + name_length + extra_length


class _Window(io.RawIOBase):
    """Bytes `start` to `start + size` of the file at `path`, as a seekable file."""

    def __init__(self, path: str, start: int, size: int):
        super().__init__()
        self._file = open(path, "rb")  # noqa: SIM115 (closed by close(), as a file is)
        self._start, self._size, self._at = start, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._at, io.SEEK_END: self._size}[whence]
        self._at = max(0, base + offset)
        return self._at

    def tell(self) -> int:
        return self._at

    def readinto(self, buffer) -> int:
        count = max(0, min(len(buffer), self._size - self._at))
        self._file.seek(self._start + self._at)
        read = self._file.readinto(memoryview(buffer)[:count])
        self._at += read
        return read

    def close(self) -> None:
        self._file.close()
        super().close()


def _dtype_name(dtype) -> str:
    if dtype.kind in "SUO":
        return "string"
    name = np.dtype(dtype).name
    return "bfloat16" if name.startswith("|V2") else name
