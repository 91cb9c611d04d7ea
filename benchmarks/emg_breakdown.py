"""Where a run's EMG (or muscle) PCC comes from: Pearson r over each whole sequence, per channel, averaged by
motion and by channel, with the predicted and reference standard deviations (a flat prediction shows there).

    python benchmarks/emg_breakdown.py RUN CORPUS [--dataset emg] [--key emg] [--split all|train|test]

The motion is the third field of a generated sequence's id (``emg-s01-curl-03``). Channels whose reference
does not move in a sequence (std < 1e-6) are left out, as the PCC metric leaves them out.
"""
from __future__ import annotations

import argparse
import collections

import numpy as np

import hdys
from hdys.store import Corpus


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run")
    ap.add_argument("corpus")
    ap.add_argument("--dataset", default="emg")
    ap.add_argument("--key", default="emg", choices=["emg", "muscle_activation"])
    ap.add_argument("--split", default="all", choices=["all", "train", "test"])
    args = ap.parse_args()
    model = hdys.load(args.run)
    corpus = Corpus(args.corpus)
    by_motion, by_channel = collections.defaultdict(list), collections.defaultdict(list)
    names_key = "emg_names" if args.key == "emg" else "muscle_names"
    for e in corpus.entries(None if args.split == "all" else args.split, args.dataset):
        seq = corpus.read(e.sequence_id)
        out = model.predict(seq).arrays
        vocab = list(out[names_key])
        ref_names = seq.emg_names if args.key == "emg" else seq.muscle_names
        ref = seq.emg if args.key == "emg" else seq.muscle_activation
        motion = e.sequence_id.split("-")[2] if e.sequence_id.count("-") >= 3 else "?"
        for j, ch in enumerate(ref_names):
            y, p = ref[:, j], out[args.key][:, vocab.index(ch)]
            if y.std() < 1e-6:
                continue
            r = float(np.corrcoef(p, y)[0, 1]) if p.std() > 0 else 0.0
            row = (r, float(y.std()), float(p.std()))
            by_motion[motion].append(row)
            by_channel[ch].append(row)
    for title, groups in (("motion", by_motion), ("channel", by_channel)):
        print(f"| {title} | n | PCC | reference std | predicted std |\n|---|---|---|---|---|")
        for k, rows in sorted(groups.items()):
            a = np.mean(rows, axis=0)
            print(f"| {k} | {len(rows)} | {a[0]:.3f} | {a[1]:.4f} | {a[2]:.4f} |")
        print()
    every = [r for rows in by_channel.values() for r in rows]
    print(f"all: PCC {np.mean([r[0] for r in every]):.3f} over {len(every)} sequence-channels")


if __name__ == "__main__":
    main()
