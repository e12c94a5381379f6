"""TensorFlow's tensor bundle (the V2 checkpoint format), read and written without a session.

`table` is the index's sorted string table, `slices` the keys of partitioned tensors' slices,
`reader` locates and checks a tensor's stored bytes, `writer` appends tensors to data shards
and writes the index, byte for byte as TensorFlow's BundleWriter would.
"""
