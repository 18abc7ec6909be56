"""Where MR's per-example losses come from: a loss pass, or the training steps.

:class:`MRSampleWeighter` asks its loss source for one loss per training example
at every update, ``source.collect(model, dataset, num_examples)``: the model, the
weighter's unshuffled ``(x, y, index)`` view of the training set and ``N``; a source
never sees the weighter.  Two sources exist, chosen with ``loss_source=``:

* :class:`LossPass` (``"eval"``, default): an extra forward pass over an unshuffled,
  un-augmented view of the training set after the period (the MR paper's choice).
* :class:`RecordedLosses` (``"train"``): the losses the training steps computed during
  the period, recorded per example by the model (no extra pass).

A source is a small object with the hooks the weighter calls; the weighter itself
does not branch on the choice.
"""

import numpy as np

from keras_mr._internal.backend import require_tensorflow
from keras_mr.pipeline.loss_pass import PerExampleLossPass
from keras_mr.pipeline.loss_recording import LossRecorder
from keras_mr.pipeline.loss_recording import set_loss_recorder
from keras_mr.pipeline.per_example_loss import resolve_per_example_loss


class LossSource:
    """Base class of MR's loss sources (see the module docstring).

    Attributes:
        name: the ``loss_source`` string of the source (``"eval"`` or ``"train"``).
        needs_eval_data: ``attach()`` must provide an unshuffled view for a pass.
        records_losses: batches carry example indices for the training step to record.
    """

    name = None
    needs_eval_data = False
    records_losses = False

    def bind(self, model):
        """Called when the weighter gets its model (``set_model``)."""

    def begin_training(self, model, state):
        """Called at ``on_train_begin`` with the weighter's
        :class:`~keras_mr.mr.weighter_state.WeighterState`."""

    def collect(self, model, dataset, num_examples, verbose=False):
        """This update's losses.

        Args:
            model: the Keras model being trained.
            dataset: the batched, unshuffled ``(x, y, index)`` view of the training set
                (``None`` when the source does not need one, ``needs_eval_data=False``).
            num_examples: ``N``.
            verbose: show progress.

        Returns:
            ``(losses, seen)``: float64 ``(N,)`` losses and a boolean ``(N,)`` mask of
            the examples that have a loss this update.
        """
        raise NotImplementedError

    def get_config(self):
        return {}


class LossPass(LossSource):
    """Per-example losses from an extra pass over the training set (``loss_source="eval"``).

    Args:
        per_example_loss_fn: optional ``fn(model, x, y) -> (B,)`` (e.g. adversarial
            losses); default: the compiled loss computed per example as Keras computes it.
        training: call the model with ``training=True`` in the pass (default ``False``:
            inference mode, no dropout, batch-norm moving statistics).

    Example:

    >>> import keras_mr
    >>> source = keras_mr.mr.LossPass(training=True)
    >>> keras_mr.MRSampleWeighter(loss_source=source).loss_source
    'eval'
    """

    name = "eval"
    needs_eval_data = True

    def __init__(self, per_example_loss_fn=None, training=False):
        if per_example_loss_fn is not None and not callable(per_example_loss_fn):
            raise TypeError(
                "`per_example_loss_fn` must be callable as fn(model, x, y) -> (B,) losses, "
                f"got {per_example_loss_fn!r}."
            )
        self.per_example_loss_fn = per_example_loss_fn
        self.training = bool(training)
        # the compiled PerExampleLossPass (built at the first update, reused after)
        self.compiled_pass = None

    def bind(self, model):
        self.compiled_pass = None

    def collect(self, model, dataset, num_examples, verbose=False):
        if self.compiled_pass is None or self.compiled_pass.model is not model:
            fn = resolve_per_example_loss(model, self.per_example_loss_fn)
            self.compiled_pass = PerExampleLossPass(model, fn, self.training)
        losses, seen = self.compiled_pass(dataset, num_examples, verbose=verbose)
        if not np.all(seen):
            raise ValueError(
                f"The loss pass saw {int(seen.sum())} of {num_examples} examples: "
                "`eval_data` must contain every training example index once."
            )
        return losses, seen

    def get_config(self):
        # per_example_loss_fn is a Python callable: not serialised (pass it again).
        return {"eval_training_mode": self.training}


class RecordedLosses(LossSource):
    """Per-example losses recorded by the training steps (``loss_source="train"``).

    Each example's loss is the mean of the losses the training steps computed for it
    during the period (at slightly older parameters, with augmentation and dropout);
    an example not seen in a period keeps its last loss.  Needs the TensorFlow backend
    and a model that records its losses: keras-mr's model classes do, a plain model is
    wrapped with :class:`keras_mr.LossRecordingModel`.
    """

    name = "train"
    records_losses = True

    def __init__(self):
        require_tensorflow(
            "loss_source='train' (use loss_source='eval' on other backends)", backend=True
        )
        self.recorder = None

    def begin_training(self, model, state):
        if not getattr(type(model), "records_example_losses", False):
            raise TypeError(
                f"loss_source='train' needs a model that records its per-example training "
                f"losses, and {type(model).__name__} does not. Wrap it: "
                "`model = keras_mr.LossRecordingModel(model)` (then compile and fit that), "
                "subclass `keras_mr.LossRecordingMixin`, or use loss_source='eval'."
            )
        self.recorder = LossRecorder(state.loss_sum, state.loss_count)
        set_loss_recorder(model, self.recorder)

    def collect(self, model, dataset, num_examples, verbose=False):
        recorder = self.recorder
        total = np.asarray(recorder.loss_sum.numpy(), dtype=np.float64)
        count = np.asarray(recorder.loss_count.numpy(), dtype=np.float64)
        recorder.loss_sum.assign(np.zeros(num_examples, np.float32))
        recorder.loss_count.assign(np.zeros(num_examples, np.float32))
        seen = count > 0
        if not seen.any():
            raise ValueError(
                "loss_source='train' recorded no training loss since the last update: "
                f"the train_step of {type(model).__name__} does not hand its "
                "per-example losses to MR (e.g. it trains on mixed examples). Use "
                "loss_source='eval', or call keras_mr.pipeline.loss_recording."
                "record_example_losses(self, index, per_example_loss) in train_step."
            )
        return np.where(seen, total / np.maximum(count, 1.0), 0.0), seen


def get_loss_source(loss_source, per_example_loss_fn=None, eval_training_mode=None):
    """Resolves ``MRSampleWeighter(loss_source=...)`` to a :class:`LossSource`.

    Args:
        loss_source: ``"eval"``, ``"train"`` or a :class:`LossSource`.
        per_example_loss_fn: shorthand for ``LossPass(per_example_loss_fn=...)``.
        eval_training_mode: shorthand for ``LossPass(training=...)``.

    Returns:
        A :class:`LossSource`.
    """
    pass_options = per_example_loss_fn is not None or eval_training_mode is not None
    if isinstance(loss_source, LossSource):
        if pass_options:
            raise ValueError(
                "Give `per_example_loss_fn`/`eval_training_mode` to the LossPass object, "
                "not next to `loss_source=` an object."
            )
        return loss_source
    if loss_source == "eval":
        return LossPass(per_example_loss_fn, bool(eval_training_mode))
    if loss_source == "train":
        if per_example_loss_fn is not None:
            raise ValueError(
                "`per_example_loss_fn` is only used by the loss pass; with loss_source='train' "
                "the compiled loss of the training step is recorded."
            )
        return RecordedLosses()
    raise ValueError(
        f"`loss_source` must be 'eval', 'train' or a keras_mr.mr.LossSource, got {loss_source!r}."
    )
