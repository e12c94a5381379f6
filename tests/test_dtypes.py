"""itemsize() agrees with TensorFlow on every dtype TensorFlow gives a size."""

from graphdiff.dtypes import itemsize
from graphdiff.tf_import import tensorflow


def test_itemsize_agrees_with_tensorflow_for_every_fixed_size_dtype():
    tf = tensorflow()
    names = {dtype.name for dtype in vars(tf.dtypes).values() if isinstance(dtype, tf.DType)}
    checked = 0
    for name in sorted(names):
        dtype = tf.dtypes.as_dtype(name)
        if name in ("string", "resource", "variant"):
            continue
        assert itemsize(name) == dtype.size, name
        checked += 1
    assert checked >= 15


def test_itemsize_is_zero_for_tensors_without_a_fixed_size():
    assert [itemsize(name) for name in ("string", "resource", "variant")] == [0, 0, 0]
