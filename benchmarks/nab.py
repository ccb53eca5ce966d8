"""The NAB score of engmetrics' causal detector beside a Windowed Gaussian baseline and the null detector.

Reads the Numenta Anomaly Benchmark corpus from `--nab DIR` (default ../shared/data/nab beside the repo;
never copied), runs each detector over every data file of `--folders` (all by default), chooses per cost
profile the threshold that maximises the corpus score (engmetrics.insights.nab.scorer.sweep) and prints the
normalised score (null = 0, perfect = 100) per profile overall and per data folder at that threshold, the
tuned thresholds and the time each detector took.

- engmetrics: engmetrics.insights.nab.detector.anomaly_scores (tuned on artificial* and realAWSCloudwatch),
  and the same without its day-over-day term, to show what that term adds;
- Windowed Gaussian: mean / std of the 6,400 rows before each row, score = 1 - two-sided normal tail
  probability of the row, written here in a few lines as a same-run reference (NAB lists 39.6 standard);
- null: never fires, 0 by construction.

Targets (issue 9): standard profile above 50 (Twitter ADVec 47.1, Windowed Gaussian 39.6). Results are
in docs/nab.md.

    python benchmarks/nab.py [--nab DIR] [--folders realKnownCause realTweets ...]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.special import erf

from engmetrics.insights.nab.corpus import Corpus, DataFile, load_corpus
from engmetrics.insights.nab.detector import DetectorSettings, anomaly_scores, trailing_mean_std
from engmetrics.insights.nab.scorer import folder_scores, sweep

DEFAULT_NAB = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "nab"
PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
SHORT = {"standard": "standard", "reward_low_FP_rate": "low FP", "reward_low_FN_rate": "low FN"}


def windowed_gaussian(values: np.ndarray, history: int = 6400) -> np.ndarray:
    """1 - P(|N(mean, std)| beyond the value), mean and std over the `history` rows before each row."""
    mean, std = trailing_mean_std(values, history)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.nan_to_num(np.abs(values - mean) / std, nan=0.0, posinf=0.0)
    return erf(z / np.sqrt(2.0))


def evaluate(corpus: Corpus, detector: Callable[[DataFile], np.ndarray]) -> tuple[float, dict]:
    """(seconds scoring, per profile: the sweep result and the per-folder scores at its threshold)."""
    begin = time.perf_counter()
    scores = [detector(f) for f in corpus.files]
    took = time.perf_counter() - begin
    results = {}
    for name in PROFILES:
        best = sweep(scores, corpus.files, corpus.profiles[name])
        results[name] = (best, folder_scores(scores, corpus.files, corpus.profiles[name], best.threshold))
    return took, results


def _cell(raw: float, normalised: float | None) -> str:
    return f"{normalised:>12.1f}" if normalised is not None else f"{'raw ' + format(raw, '.2f'):>12}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nab", type=Path, default=DEFAULT_NAB, help="the NAB corpus directory")
    parser.add_argument("--folders", nargs="+", help="data folders to score (default: all)")
    args = parser.parse_args()
    begin = time.perf_counter()
    corpus = load_corpus(args.nab, args.folders)
    print(f"{len(corpus.files)} files, {sum(len(f.values) for f in corpus.files):,} rows, "
          f"{sum(len(f.windows) for f in corpus.files)} windows read in {time.perf_counter() - begin:.2f} s")
    without_daily = DetectorSettings(seasonal=0.0)
    detectors: dict[str, Callable[[DataFile], np.ndarray]] = {
        "engmetrics": lambda f: anomaly_scores(f.values, f.timestamps),
        "engmetrics without daily term": lambda f: anomaly_scores(f.values, settings=without_daily),
        "Windowed Gaussian": lambda f: windowed_gaussian(f.values),
    }
    runs = {name: evaluate(corpus, detector) for name, detector in detectors.items()}
    header = f"{'':<30}" + "".join(f"{SHORT[p]:>12}" for p in PROFILES)
    print("\nnormalised score, overall (threshold chosen per profile over the whole run)")
    print(header)
    print(f"{'null (never fires)':<30}" + "".join(f"{0.0:>12.1f}" for _ in PROFILES))
    for name, (_, results) in runs.items():
        print(f"{name:<30}" + "".join(f"{results[p][0].normalised:>12.1f}" for p in PROFILES))
    print("\ntuned thresholds (a row fires when its score is at or above)")
    for name, (_, results) in runs.items():
        print(f"{name:<30}" + "".join(f"{results[p][0].threshold:>18.15f}" for p in PROFILES))
    for name, (_, results) in runs.items():
        print(f"\n{name}: per data folder, at the overall thresholds (raw when a folder has no window)")
        print(header)
        for folder in sorted(results[PROFILES[0]][1]):
            print(f"{folder:<30}" + "".join(_cell(*results[p][1][folder]) for p in PROFILES))
    print("\nseconds scoring the corpus: " + ", ".join(f"{name} {took:.2f}" for name, (took, _) in runs.items()))


if __name__ == "__main__":
    main()
