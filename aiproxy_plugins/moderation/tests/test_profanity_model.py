"""The fast scorer gives alt-profanity-check's own probabilities (slow: loads its model)."""

from __future__ import annotations

import numpy as np
import pytest

from aiproxy_moderation.profanity_model import ProfanityModel

pytestmark = pytest.mark.slow

TEXTS = ["How do I kill a Python process?", "fuck you", "This bug is killing me", "", "a lovely day in the park"]


def test_scores_equal_predict_prob():
    from profanity_check import predict_prob

    assert np.allclose(ProfanityModel.shared().scores(TEXTS), predict_prob(TEXTS), atol=1e-9)


def test_the_model_is_loaded_once():
    assert ProfanityModel.shared() is ProfanityModel.shared()
