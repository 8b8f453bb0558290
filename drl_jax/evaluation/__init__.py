"""Evaluating checkpoints: batched encoding and scoring of many models, and the files it
writes and reads (representations.npz + classes.csv, association_matrix.csv, results)."""

from drl_jax.evaluation.evaluate import EvaluationSettings, evaluate_models

__all__ = ["EvaluationSettings", "evaluate_models"]
