"""Import TensorFlow once, quietly, and only when a command really needs it.

TensorFlow writes banners to standard error at import (oneDNN notices, CPU feature lines,
absl warnings). A command whose only error output must be one line silences them here.
"""

from __future__ import annotations

import contextlib
import os
import sys

_QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0"}


@contextlib.contextmanager
def _stderr_silenced():
    """Point file descriptor 2 at /dev/null: the C++ runtime writes there, not to sys.stderr."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def tensorflow():
    """Return the `tensorflow` module, imported without its start-up chatter.

    Raises ImportError with the install command when neither wheel is installed.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    for key, value in _QUIET_ENV.items():
        os.environ.setdefault(key, value)
    try:
        with _stderr_silenced():
            import tensorflow as tf  # noqa: PLC0415 - deliberately lazy
            from absl import logging as absl_logging  # noqa: PLC0415

            absl_logging.set_verbosity(absl_logging.ERROR)
            tf.get_logger().setLevel("ERROR")
            tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.ERROR)
    except ImportError as error:
        raise ImportError(
            "graphdiff needs TensorFlow: pip install tensorflow-cpu (or tensorflow)"
        ) from error
    return tf
