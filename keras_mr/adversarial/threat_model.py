"""ThreatModel: the set of allowed perturbations (radius, norm, valid input range)."""

from keras_mr.adversarial import attacks

_SHORTHANDS = ("eps", "norm", "clip_min", "clip_max")


class ThreatModel:
    """The perturbations an adversary may apply: an ``eps``-ball in a norm, inside a range.

    Args:
        eps: radius of the perturbation ball (default ``8/255``).
        norm: ``"inf"`` (default) or ``2``.
        clip_min: lower end of the valid input range (``None``: unbounded).
        clip_max: upper end of the valid input range (``None``: unbounded).

    Example:

    >>> from keras_mr.adversarial import ThreatModel
    >>> threat = ThreatModel(eps=0.1, norm=2)
    >>> threat.norm, threat.get_config()["clip_max"]
    (2, 1.0)
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

    @classmethod
    def from_arguments(cls, threat_model, kwargs):
        """The threat model of a model constructor: an object, an ``eps``, or shorthands.

        Pops ``eps``, ``norm``, ``clip_min``, ``clip_max`` from ``kwargs`` (the keywords of
        earlier versions); they cannot be combined with a ``ThreatModel`` object.
        """
        options = {k: kwargs.pop(k) for k in _SHORTHANDS if k in kwargs}
        if isinstance(threat_model, ThreatModel):
            if options:
                raise ValueError(f"Give {sorted(options)} to the ThreatModel object.")
            return threat_model
        if threat_model is not None:
            if "eps" in options:
                raise ValueError("`eps` was given twice (as `threat_model` and as `eps`).")
            options["eps"] = threat_model
        return cls(**options)

    def get_config(self):
        return {
            "eps": self.eps,
            "norm": self.norm,
            "clip_min": self.clip_min,
            "clip_max": self.clip_max,
        }
