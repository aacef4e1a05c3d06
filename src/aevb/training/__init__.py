"""Fitting models: objectives, optimizers, checkpoints and the training loop."""
