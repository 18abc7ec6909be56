"""ThreatModel: the set of allowed perturbations (radius, norm, valid input range)."""

import keras

from keras_mr.adversarial import attacks


@keras.saving.register_keras_serializable(package="keras_mr")
class ThreatModel:
    """The perturbations an adversary may apply: an ``eps``-ball in a norm, inside a range.

    The adversarial models take one as ``threat_model=`` and save it, nested, in their
    configuration (``get_config`` / ``from_config``).

    Args:
        eps: radius of the perturbation ball (default ``8/255``).
        norm: ``"inf"`` (default) or ``2``.
        clip_min: lower end of the valid input range (default 0.0; ``None``: unbounded).
        clip_max: upper end of the valid input range (default 1.0; ``None``: unbounded).

    Example:

    >>> from keras_mr.adversarial import ThreatModel
    >>> threat = ThreatModel(eps=0.1, norm=2)
    >>> threat.norm, threat.get_config()["clip_max"]
    (2, 1.0)
    >>> ThreatModel.from_config(threat.get_config())
    ThreatModel(eps=0.1, norm=2, clip_min=0.0, clip_max=1.0)
    """

    def __init__(self, eps=8 / 255, norm="inf", clip_min=0.0, clip_max=1.0):
        self.eps = attacks.check_eps(eps, "eps")
        self.norm = attacks.canonical_norm(norm)
        if clip_min is not None and clip_max is not None and float(clip_min) >= float(clip_max):
            raise ValueError(
                f"`clip_min` ({clip_min}) must be < `clip_max` ({clip_max}); "
                "use clip_min=None, clip_max=None for unbounded inputs."
            )
        self.clip_min = None if clip_min is None else float(clip_min)
        self.clip_max = None if clip_max is None else float(clip_max)

    def get_config(self):
        return {
            "eps": self.eps,
            "norm": self.norm,
            "clip_min": self.clip_min,
            "clip_max": self.clip_max,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        settings = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())
        return f"{type(self).__name__}({settings})"
