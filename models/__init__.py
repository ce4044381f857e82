"""CLOV AI models: the converted ONNX files, their cards, the recipe, and pure-Python decoding."""
