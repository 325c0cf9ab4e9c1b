"""Decoders: turn a feature pyramid into one dense feature map."""

from bidense_keras.decoders.upernet import PPM_BINS, pyramid_pooling, upernet_decoder

__all__ = ["PPM_BINS", "pyramid_pooling", "upernet_decoder"]
