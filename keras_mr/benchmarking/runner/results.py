"""Results of runs and grids: tables in the papers' format, CSV and JSON."""

import csv
import dataclasses
import json
import os
from typing import Optional

import numpy as np


@dataclasses.dataclass
class RunResult:
    """One training run: identifiers, final/best test accuracy, curves."""

    dataset: str
    noise: str
    rate: float
    method: str
    seed: int
    final_acc: float
    best_acc: float
    realised_noise_rate: float
    test_acc: list
    noisy_mass: Optional[list] = None
    auc: Optional[float] = None
    ap: Optional[float] = None
    seconds: float = 0.0
    final_weights: Optional[np.ndarray] = None
    noisy_mask: Optional[np.ndarray] = None

    def summary(self):
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d.pop("final_weights")
        d.pop("noisy_mask")
        return d


def _mean_std(values):
    v = np.asarray([x for x in values if x is not None], dtype=np.float64)
    if v.size == 0:
        return None, None
    return float(v.mean()), float(v.std())


def _pm(mean, std, scale=100.0, digits=2):
    if mean is None:
        return "-"
    return f"{scale * mean:.{digits}f} ± {scale * std:.{digits}f}"


class GridResult:
    """All runs of a grid, with the papers-style table and file exports."""

    def __init__(self, runs):
        self.runs = list(runs)

    @classmethod
    def load(cls, *paths):
        """Merges the runs of one or more ``results.json`` files (e.g. parallel jobs).

        Loaded runs carry no weights (no histograms), everything else is kept.
        """
        runs = []
        fields = {f.name for f in dataclasses.fields(RunResult)}
        for path in paths:
            with open(path) as f:
                for r in json.load(f)["runs"]:
                    runs.append(RunResult(**{k: v for k, v in r.items() if k in fields}))
        return cls(runs)

    def summary_rows(self):
        """One row per (dataset, noise, rate, method): mean and std over seeds."""
        groups = {}
        for r in self.runs:
            groups.setdefault((r.dataset, r.noise, r.rate, r.method), []).append(r)
        rows = []
        for (ds, nz, rate, method), rs in groups.items():
            row = dict(dataset=ds, noise=nz, rate=rate, method=method, seeds=len(rs))
            for field, column in (("final_acc", "final"), ("best_acc", "best"), ("auc", "auc")):
                mean, std = _mean_std([getattr(r, field) for r in rs])
                row.update({f"{column}_mean": mean, f"{column}_std": std})
            row["realised_noise_rate"] = rs[0].realised_noise_rate
            rows.append(row)
        return rows

    def table(self):
        """The results table (markdown): rows = methods, columns = rates (final / best)."""
        rows = self.summary_rows()
        blocks = []
        for ds, nz in dict.fromkeys((r["dataset"], r["noise"]) for r in rows):
            sub = [r for r in rows if r["dataset"] == ds and r["noise"] == nz]
            rates = sorted(dict.fromkeys(r["rate"] for r in sub))
            methods = list(dict.fromkeys(r["method"] for r in sub))
            head = ["method"]
            for rate in rates:
                head += [f"{rate:.0%} final", f"{rate:.0%} best", f"{rate:.0%} AUC"]
            lines = [
                f"{ds}, {nz} noise (test accuracy %, mean ± std over seeds)",
                "| " + " | ".join(head) + " |",
                "|" + "---|" * len(head),
            ]
            for m in methods:
                cells = [m]
                for rate in rates:
                    r = next((r for r in sub if r["method"] == m and r["rate"] == rate), None)
                    if r is None:
                        cells += ["-", "-", "-"]
                        continue
                    cells += [
                        _pm(r["final_mean"], r["final_std"]),
                        _pm(r["best_mean"], r["best_std"]),
                        _pm(r["auc_mean"], r["auc_std"], scale=1.0, digits=3),
                    ]
                lines.append("| " + " | ".join(cells) + " |")
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks)

    def write(self, out_dir, plots=True):
        """Writes ``runs.csv``, ``summary.csv``, ``results.json``, ``table.md`` and plots."""
        os.makedirs(out_dir, exist_ok=True)
        run_fields = [
            "dataset",
            "noise",
            "rate",
            "method",
            "seed",
            "final_acc",
            "best_acc",
            "realised_noise_rate",
            "auc",
            "ap",
            "seconds",
        ]
        with open(os.path.join(out_dir, "runs.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, run_fields)
            w.writeheader()
            for r in self.runs:
                w.writerow({k: getattr(r, k) for k in run_fields})
        rows = self.summary_rows()
        if not rows:
            raise ValueError("No runs to write.")
        with open(os.path.join(out_dir, "summary.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        with open(os.path.join(out_dir, "results.json"), "w") as f:
            json.dump({"summary": rows, "runs": [r.summary() for r in self.runs]}, f, indent=1)
        with open(os.path.join(out_dir, "table.md"), "w") as f:
            f.write(self.table() + "\n")
        files = ["runs.csv", "summary.csv", "results.json", "table.md"]
        if plots:
            files += self.plot(out_dir)
        return [os.path.join(out_dir, f) for f in files]

    def plot(self, out_dir):
        """Accuracy curves, noisy-mass curves and weight histograms per setting."""
        from keras_mr.benchmarking import plots

        written = []
        settings = dict.fromkeys((r.dataset, r.noise, r.rate) for r in self.runs)
        for ds, nz, rate in settings:
            rs = [r for r in self.runs if (r.dataset, r.noise, r.rate) == (ds, nz, rate)]
            tag = f"{ds}_{nz}_{int(round(100 * rate))}"
            title = f"{ds}, {nz} {rate:.0%}"
            acc = {}
            mass = {}
            for r in rs:
                acc.setdefault(r.method, []).append(r.test_acc)
                if r.noisy_mass:
                    mass.setdefault(r.method, []).append(r.noisy_mass)
            name = f"accuracy_{tag}.png"
            plots.plot_accuracy_curves(acc, title=title, path=os.path.join(out_dir, name))
            written.append(name)
            if mass:
                name = f"noisy_mass_{tag}.png"
                plots.plot_noisy_mass(
                    mass,
                    noise_rate=rs[0].realised_noise_rate,
                    title=title,
                    path=os.path.join(out_dir, name),
                )
                written.append(name)
            for r in rs:
                if r.final_weights is not None and r.seed == rs[0].seed and r.auc is not None:
                    name = f"weights_{tag}_{r.method}.png"
                    plots.plot_weight_histograms(
                        r.final_weights,
                        r.noisy_mask,
                        title=f"{title}, {r.method}",
                        path=os.path.join(out_dir, name),
                    )
                    written.append(name)
        return written
