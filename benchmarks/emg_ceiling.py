"""How high can the EMG PCC go? The labels' noise ceiling, by motion and channel.

    python benchmarks/emg_ceiling.py [--preset quick] [--seed 1] [--subjects 1-8]

The `emg` labels are noisy envelopes (:func:`hdys.physics.emg.envelope`: per-frame multiplicative noise of
5-15 %). A predictor that knew the noise-free envelope exactly (its gain and baseline do not matter: PCC is
per channel and window) would score the PCC between that envelope and the label. This script regenerates
`emg` subjects (the same draws as ``hdys synth``), keeps each sequence's envelope before the noise and scores
it with the evaluator's windowed PCC (:func:`hdys.metrics.pcc_windows`, 64-frame windows). Where a channel's
noise-free envelope does not move in a window (a biceps while the arms are still) the label is noise alone:
its ceiling there is 0, as for any predictor. Use a seed that is not the training corpus's (seed 1: the
validation subjects of ``benchmarks/recipe.py``).
"""
from __future__ import annotations

import argparse
import collections

import numpy as np

import hdys.physics.emg as emg_module
from hdys.metrics import DEFAULT_PCC_WINDOW, pcc_windows
from hdys.physics.fixture import generate_subject


def subject_numbers(text: str) -> list[int]:
    """``"1-8"`` or ``"1,3,5"`` -> subject numbers (1-based, as in the sequence ids)."""
    if "-" in text:
        lo, hi = (int(x) for x in text.split("-"))
        return list(range(lo, hi + 1))
    return [int(x) for x in text.split(",")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="quick")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--subjects", default="1-8", help="1-based subject numbers: 1-8 or 1,4,9")
    args = ap.parse_args()

    clean: list[np.ndarray] = []
    noisy_envelope = emg_module.envelope

    def recording(drive, fps, params, rng):
        clean.append(emg_module.lowpass(drive, fps, params.tau_s) * params.gain + params.baseline)
        return noisy_envelope(drive, fps, params, rng)

    emg_module.envelope = recording  # the fixture calls it through the module
    by_motion, by_channel, every = collections.defaultdict(list), collections.defaultdict(list), []
    names: list[str] = []
    for number in subject_numbers(args.subjects):
        clean.clear()
        seqs = generate_subject(args.preset, args.seed, "emg", number - 1)
        if len(clean) != len(seqs):
            raise RuntimeError(f"expected one envelope per sequence, got {len(clean)} for {len(seqs)}")
        for seq, y in zip(seqs, clean):
            names = seq.emg_names
            windows = pcc_windows(y, seq.emg, DEFAULT_PCC_WINDOW)
            every.extend(windows)
            by_motion[seq.sequence_id.split("-")[2]].extend(windows)
            for c, name in enumerate(names):
                by_channel[name].extend(pcc_windows(y[:, [c]], seq.emg[:, [c]], DEFAULT_PCC_WINDOW))
        print(f"subject {number}: {len(seqs)} sequences", flush=True)
    print(f"\n{args.preset} seed {args.seed}, subjects {args.subjects}: ceiling {np.mean(every):.3f} "
          f"over {len(every)} windows\n")
    for title, groups in (("motion", by_motion), ("channel", by_channel)):
        print(f"| {title} | windows | ceiling |\n|---|---|---|")
        for key in (sorted(groups) if title == "motion" else names):
            print(f"| {key} | {len(groups[key])} | {np.mean(groups[key]):.3f} |")
        print()


if __name__ == "__main__":
    main()
