"""Plots for noisy-label experiments (matplotlib, imported lazily).

Each function draws on ``ax`` (a new figure when ``None``), saves the figure
to ``path`` when given and returns the figure.  Install matplotlib with
``pip install keras-mr[plots]``.
"""

import numpy as np


def _plt():
    try:
        import matplotlib

        if (
            matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "ps")
            and not _interactive()
        ):
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "keras_mr.benchmarking.plots needs matplotlib: `pip install keras-mr[plots]`."
        ) from e
    return plt


def _interactive():
    import sys

    return hasattr(sys, "ps1") or "ipykernel" in sys.modules


def _axes(ax, figsize=(5.0, 3.5)):
    plt = _plt()
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    else:
        fig = ax.figure
    return fig, ax


def _save(fig, path):
    if path is not None:
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        _plt().close(fig)
    return fig


def _curve(values):
    """``list`` -> (mean, None); ``list of lists`` (seeds) -> (mean, std)."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 1:
        return arr, None
    return arr.mean(axis=0), arr.std(axis=0)


def plot_curves(curves, ylabel, title=None, ax=None, path=None, percent=False):
    """Line plot of per-epoch curves, one line per name (mean ± std band over seeds).

    Args:
        curves: dict ``name -> values``; ``values`` is ``(E,)`` or ``(seeds, E)``.
        ylabel: y-axis label.
        title: optional title.
        ax: optional matplotlib axes.
        path: optional file to save to.
        percent: multiply values by 100.

    Returns:
        The matplotlib figure.
    """
    fig, ax = _axes(ax)
    for name, values in curves.items():
        mean, std = _curve(values)
        scale = 100.0 if percent else 1.0
        epochs = np.arange(1, mean.size + 1)
        ax.plot(epochs, scale * mean, label=name)
        if std is not None:
            ax.fill_between(epochs, scale * (mean - std), scale * (mean + std), alpha=0.2)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def plot_accuracy_curves(curves, title=None, ax=None, path=None):
    """Test accuracy (%) over epochs per method; see :func:`plot_curves`."""
    return plot_curves(curves, "test accuracy (%)", title=title, ax=ax, path=path, percent=True)


def plot_noisy_mass(curves, noise_rate=None, title=None, ax=None, path=None):
    """Weight mass on noisy examples over epochs, per method.

    Args:
        curves: dict ``name -> values`` (fraction of total weight on noisy examples).
        noise_rate: optional realised noise rate, drawn as the uniform-weights level.
        title, ax, path: as in :func:`plot_curves`.
    """
    fig, ax = _axes(ax)
    plot_curves(curves, "weight mass on noisy examples", title=title, ax=ax)
    if noise_rate is not None:
        ax.axhline(noise_rate, color="grey", linestyle="--", label="uniform weights")
        ax.legend()
    return _save(fig, path)


def plot_weight_histograms(
    weights, noisy_mask, bins=40, title=None, ax=None, path=None, floor=1e-6
):
    """Histograms of clean vs noisy example weights.

    Weights are shown as ``log10(N * p)`` (0 = the uniform weight), because
    MR weights span many orders of magnitude; values below ``floor`` are
    clipped to it.

    Args:
        weights: ``(N,)`` weights (any positive scale).
        noisy_mask: bool ``(N,)``.
        bins: number of bins.
        title, ax, path: as in :func:`plot_curves`.
        floor: smallest relative weight shown.
    """
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    m = np.asarray(noisy_mask).reshape(-1).astype(bool)
    rel = np.log10(np.maximum(w * w.size / max(w.sum(), 1e-300), floor))
    fig, ax = _axes(ax)
    edges = np.linspace(rel.min(), max(rel.max(), rel.min() + 1e-3), bins + 1)
    ax.hist(rel[~m], bins=edges, alpha=0.6, label=f"clean ({(~m).sum()})")
    ax.hist(rel[m], bins=edges, alpha=0.6, label=f"noisy ({m.sum()})")
    ax.set_xlabel(f"log10(N * weight), clipped at {np.log10(floor):.0f}")
    ax.set_ylabel("examples")
    if title:
        ax.set_title(title)
    ax.legend()
    return _save(fig, path)
