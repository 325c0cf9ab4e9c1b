"""Synthetic data sets for training and smoke-testing the segmentation and depth models."""
from bidense_keras.datasets import synthetic_rooms
