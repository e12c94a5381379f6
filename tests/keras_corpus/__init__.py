"""The Keras matcher corpus: real Keras 3 models saved for real, every restore scored."""
