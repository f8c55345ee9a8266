"""alt-profanity-check's model, loaded once per process and scored without sklearn's overhead.

``profanity_check.predict_prob`` costs ~4 ms per call here, nearly all of it sklearn's input
validation around a dot product. The model is a TF-IDF vectorizer and a sigmoid-calibrated
linear SVM ensemble, so the same probabilities come from a sparse product and ``expit`` (a test
checks they equal ``predict_prob``'s) in ~0.4 ms.
"""

from __future__ import annotations

import threading
from typing import Any, Sequence

import numpy as np

__all__ = ["ProfanityModel"]


class ProfanityModel:
    _shared: "ProfanityModel | None" = None
    _lock = threading.Lock()

    def __init__(self, vectorizer: Any, classifier: Any) -> None:
        self._vectorizer = vectorizer
        calibrated = classifier.calibrated_classifiers_
        # One column per ensemble member: weights, intercepts and the sigmoid's a, b.
        self._weights = np.vstack([member.estimator.coef_[0] for member in calibrated]).T
        self._intercepts = np.array([member.estimator.intercept_[0] for member in calibrated])
        self._a = np.array([member.calibrators[0].a_ for member in calibrated])
        self._b = np.array([member.calibrators[0].b_ for member in calibrated])

    @classmethod
    def shared(cls) -> "ProfanityModel":
        """The process's model; the first call loads it (~1.5 s), so make it from a thread."""
        if cls._shared is None:
            with cls._lock:
                if cls._shared is None:
                    from profanity_check import profanity_check  # loads the joblib files on import

                    cls._shared = cls(profanity_check.vectorizer, profanity_check.model)
        return cls._shared

    @classmethod
    def loaded(cls) -> bool:
        return cls._shared is not None

    def scores(self, texts: Sequence[str]) -> list[float]:
        """The probability that each text is offensive, as ``predict_prob`` gives it."""
        if not texts:
            return []
        decision = self._vectorizer.transform(list(texts)) @ self._weights + self._intercepts
        probabilities = 1.0 / (1.0 + np.exp(self._a * decision + self._b))
        return [float(value) for value in np.asarray(probabilities).mean(axis=1)]
