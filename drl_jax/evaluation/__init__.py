"""Evaluating checkpoints: batched encoding and scoring of many models, and the files it
writes and reads (representations.npz + classes.csv, association_matrix.csv, results)."""

from drl_jax.evaluation.evaluate import Evaluated, evaluate_models
from drl_jax.evaluation.settings import EvaluationSettings

__all__ = ["Evaluated", "EvaluationSettings", "evaluate_models"]
