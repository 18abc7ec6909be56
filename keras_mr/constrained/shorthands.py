"""The flat keywords of :class:`keras_mr.ConstrainedReweightingModel`, as strategy objects.

The canonical arguments of the model are three objects (``instance=``, ``classes=``,
``mixing=``).  The flat keywords of earlier versions (``instance_divergence="kl"``,
``temperature=0.5``, ``class_divergence="l1"``, ``class_budget=0.3``, ``mixup="cicw"``,
...) remain a documented shorthand: :func:`strategies_from_keywords` turns them into
the objects and rejects unknown keywords with a ``TypeError``.

Example:

>>> from keras_mr.constrained.shorthands import strategies_from_keywords
>>> keywords = {"temperature": 0.5, "class_divergence": "l1", "mixup": "cicw", "name": "m"}
>>> instance, classes, mixing = strategies_from_keywords("kl", None, None, keywords)
>>> instance.temperature, classes.divergence, type(mixing).__name__, keywords
(0.5, 'l1', 'CICWMixup', {'name': 'm'})
"""

import inspect
from typing import Any
from typing import NamedTuple
from typing import Optional

import keras

from keras_mr.constrained.mixing import get_mixing
from keras_mr.constrained.reweighting import ClassReweighting
from keras_mr.constrained.reweighting import InstanceReweighting

INSTANCE_KEYWORDS = (
    "temperature",
    "final_temperature",
    "decay_rate",
    "decay_steps",
    "burn_in_steps",
)
# shorthand keyword -> ClassReweighting argument
CLASS_KEYWORDS = {
    "class_temperature": "temperature",
    "class_budget": "budget",
    "class_smoothing": "smoothing",
}
MIXING_KEYWORDS = ("mixup_variant", "mixup_alpha", "consistent_targets")
SHORTHANDS = (
    "instance_divergence",
    *INSTANCE_KEYWORDS,
    "class_divergence",
    *CLASS_KEYWORDS,
    "mixup",
) + MIXING_KEYWORDS


class Strategies(NamedTuple):
    """The model's three strategy objects.

    Attributes:
        instance: an :class:`InstanceReweighting`, or ``None`` (no CIW).
        classes: a :class:`ClassReweighting`, or ``None`` (no CICW).
        mixing: a mixing object of :mod:`keras_mr.constrained.mixing`.
    """

    instance: Optional[InstanceReweighting]
    classes: Optional[ClassReweighting]
    mixing: Any


def _model_keywords():
    """The named keywords of ``keras.Model`` (those of ``keras.layers.Layer``)."""
    parameters = inspect.signature(keras.layers.Layer.__init__).parameters.values()
    return {p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}


def _instance_from(instance, options):
    if instance is None:  # no CIW: the schedule keywords configure nothing (as before)
        return None
    if isinstance(instance, InstanceReweighting):
        if options:
            raise ValueError(f"Give {sorted(options)} to the InstanceReweighting object.")
        return instance
    return InstanceReweighting(instance, **options)


def _class_from(classes, options):
    if isinstance(classes, ClassReweighting) or (classes is None and not options):
        return classes
    if classes is None:
        raise ValueError(f"{sorted(options)} need `class_divergence=` (e.g. 'kl').")
    return ClassReweighting(classes, **{CLASS_KEYWORDS[k]: v for k, v in options.items()})


def strategies_from_keywords(instance, classes, mixing, keywords):
    """Builds the strategy objects from the model's arguments and shorthand keywords.

    Args:
        instance: ``instance=`` of the model (an object, a divergence, or ``None``).
        classes: ``classes=`` of the model (an object, a divergence, or ``None``).
        mixing: ``mixing=`` of the model (an object, ``"uniform"``, ``"cicw"``, ``None``).
        keywords: dict of the model's other keywords.  The shorthands
            (:data:`SHORTHANDS`) are removed from it; the rest are left for
            ``keras.Model``.

    Returns:
        :class:`Strategies` ``(instance, classes, mixing)``.

    Raises:
        TypeError: for a keyword that is neither a shorthand nor one of ``keras.Model``.
        ValueError: for invalid settings, or settings given both ways.
    """
    unknown = sorted(set(keywords) - set(SHORTHANDS) - _model_keywords())
    if unknown:
        raise TypeError(
            f"ConstrainedReweightingModel got unexpected keyword(s) {unknown}; its shorthand "
            f"keywords are {list(SHORTHANDS)}."
        )
    instance = keywords.pop("instance_divergence", instance)
    classes = keywords.pop("class_divergence", classes)
    mixing = keywords.pop("mixup", mixing)
    instance_options = {k: keywords.pop(k) for k in INSTANCE_KEYWORDS if k in keywords}
    class_options = {k: keywords.pop(k) for k in CLASS_KEYWORDS if k in keywords}
    mixing_options = {k: keywords.pop(k) for k in MIXING_KEYWORDS if k in keywords}
    instance = _instance_from(instance, instance_options)
    classes = _class_from(classes, class_options)
    mixing = get_mixing(mixing, **mixing_options)
    if mixing.needs_instance_weights and instance is None:
        raise ValueError(
            "`mixup='cicw'` is driven by CIW weights: set `instance_divergence` (e.g. 'kl')."
        )
    return Strategies(instance, classes, mixing)
