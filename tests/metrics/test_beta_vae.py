"""BetaVAE scorer on hand-built features (the sampler is tested in test_interventions.py)."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier

from drl_jax.metrics._beta_vae import beta_vae_score

NUM_FACTORS = 6  # chance accuracy 1/6


def points(n: int, seed: int, informative: bool = True):
    """Features as an identity representation gives them: 0 in the fixed FoV's dimension,
    E|v - v'| > 0 elsewhere (here uniform in [0.5, 1.5])."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, NUM_FACTORS, n)
    features = rng.uniform(0.5, 1.5, size=(n, NUM_FACTORS))
    if informative:
        features[np.arange(n), labels] = 0.0
    return features, labels


def test_identity_features_score_one():
    result = beta_vae_score(*points(1000, 0), *points(1000, 1))
    assert result == {"beta_vae_train": 1.0, "beta_vae_eval": 1.0}


def test_uninformative_features_score_chance():
    # Eval accuracy of a classifier that learnt nothing: 1/6 +- 0.012 (1,000 points).
    noise = beta_vae_score(*points(1000, 0, False), *points(1000, 1, False))
    assert noise["beta_vae_eval"] <= 0.2
    features, labels = points(1000, 2, False)
    constant = beta_vae_score(features * 0, labels, features * 0, labels)
    # Constant features: one class is predicted for all, so accuracy is its frequency.
    assert constant["beta_vae_eval"] == pytest.approx(np.max(np.bincount(labels)) / 1000, abs=0.001)
    assert constant["beta_vae_eval"] <= 0.2


def test_matches_direct_sklearn():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 4, 800)
    features = rng.normal(size=(800, 5)) + np.eye(5)[labels] * 0.8
    classifier = OneVsRestClassifier(LogisticRegression(solver="liblinear", random_state=0))
    classifier.fit(features[:500], labels[:500])
    expected = np.mean(classifier.predict(features[500:]) == labels[500:])
    result = beta_vae_score(features[:500], labels[:500], features[500:], labels[500:])
    assert result["beta_vae_eval"] == expected
    assert 0.4 < expected < 0.95  # a partly informative example, not a saturated one


def test_rejects_bad_inputs():
    features, labels = points(50, 0)
    with pytest.raises(ValueError, match=r"features_train \(50, 6\).*\(49, 1\)"):
        beta_vae_score(features, labels[:49], features, labels)
    with pytest.raises(ValueError, match=r"labels_train \(50, 1\)"):
        beta_vae_score(features, labels[:, None], features, labels)
    with pytest.raises(ValueError, match="NaN"):
        beta_vae_score(np.full_like(features, np.nan), labels, features, labels)
