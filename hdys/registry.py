"""The paper's experiments as closed lists of variants (``hdys experiment NAME``; see :mod:`hdys.experiment`).

A variant is a row name and the config overrides that make it (``train.datasets``, ``train.fractions``,
``train.shares``, ``model.arch``, ablation switches); :data:`EXPERIMENTS` maps each experiment to the function
that builds its variants from what the corpora hold (:class:`CorpusInfo`).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .config import Config, apply_overrides
from .metrics import MPJE_LEFT, MPJE_RIGHT
from .quickstart import QUICK_MODEL, QUICK_TRAIN
from .schema import DYNAMICS, KINEMATICS

PAPER_NAMES = {"lab": "AddBiomechanics", "sim": "ImDy", "muscle": "MinT", "emg": "MiA", "kin": "AMASS",
               "grf": "GroundLink"}
FINETUNE_TARGETS = ("grf", "groundlink")  # dataset names of the GRF fine-tuning target (Tables 4, 10)
# columns of tables whose paper columns are not Table 1's: Tables 4 and 10 report each foot's GRF
TABLE_METRICS = {"table4": {"grf": (MPJE_LEFT, MPJE_RIGHT)}, "table10": {"grf": (MPJE_LEFT, MPJE_RIGHT)}}
TORQUE_TYPES = ("torque_rajagopal", "torque_smpl", "grf")
MUSCLE_TYPES = ("muscle_activation", "emg")
BASELINE_NAMES = {"imdys": "ImDyS", "mia": "MiA", "groundlink": "GroundLinkNet", "mean": "mean predictor",
                  "mlp": "per-frame MLP"}
LATENT_DIMS = (32, 64, 128)  # HDyS sizes of Table 1 (the base size is the HDyS row itself)
TABLE2_TARGETS = ("lab", "emg")  # AddBiomechanics and MiA, as in the paper
REP_ROWS = {"markers": "HDyS-marker", "keypoints": "HDyS-keypoint", "joint_angles": "HDyS-angle",
            "smpl": "HDyS-SMPL"}
EPOCHS = 1_000_000  # the base epoch count, never reached: the protocol (epochs, steps or budget) ends a run
# the paper's Table 7, for reference next to the measured counts
PAPER_PARAMS = {"mia": "5.4M", "imdys": "4.0M", "hdys": "3.9M", "hdys-32d": "0.6M", "hdys-64d": "1.4M",
                "hdys-128d": "3.9M"}


@dataclass(frozen=True)
class Variant:
    """One row of an experiment: ``key`` is its directory, ``name`` its row label, ``overrides`` the
    config overrides on top of the base config, ``datasets`` the datasets its row shows (empty: all),
    ``role``/``param`` what the claims read (e.g. ``single``/``lab``), ``composition`` train sequences
    per dataset where a share is drawn (Table 8)."""
    key: str
    name: str
    overrides: tuple[str, ...] = ()
    datasets: tuple[str, ...] = ()
    role: str = "hdys"
    param: str = ""
    composition: tuple[tuple[str, int], ...] = ()


@dataclass
class CorpusInfo:
    """What the variants are built from: per dataset, train / test sequence counts, dynamics and
    kinematics representations (over all corpora, datasets in order of first appearance)."""
    train: dict[str, int] = field(default_factory=dict)
    test: dict[str, int] = field(default_factory=dict)
    dynamics: dict[str, list[str]] = field(default_factory=dict)
    kinematics: dict[str, list[str]] = field(default_factory=dict)

    @property
    def datasets(self) -> list[str]:
        return list(self.dynamics)

    @property
    def labelled(self) -> list[str]:
        """Datasets with dynamics labels."""
        return [d for d, dyn in self.dynamics.items() if dyn]


def describe_corpora(data: list[str]) -> CorpusInfo:
    from .store import Corpus

    info = CorpusInfo()
    for path in data:
        corpus = Corpus(path)
        for e in corpus.entries():
            info.dynamics.setdefault(e.dataset, [])
            info.kinematics.setdefault(e.dataset, [])
            counts = info.train if e.split == "train" else info.test
            counts[e.dataset] = counts.get(e.dataset, 0) + 1
            for key, names in ((DYNAMICS, info.dynamics[e.dataset]), (KINEMATICS, info.kinematics[e.dataset])):
                names.extend(r for r in e.representations if r in key and r not in names)
        corpus.close()
    for d in info.dynamics:
        info.dynamics[d] = [x for x in DYNAMICS if x in info.dynamics[d]]
        info.kinematics[d] = [x for x in KINEMATICS if x in info.kinematics[d]]
    return info


# -------------------------------------------------------------------------------------------------
# the registry


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "x"


def _datasets(names) -> str:
    return "train.datasets=" + json.dumps(list(names))


def quick_overrides() -> list[str]:
    """The quickstart's CPU-sized config (64-D, 384-frame batches, FDAE on every 2nd frame) as overrides
    of the default config, with an epoch count no budget reaches."""
    quick = [f"model.{k}={json.dumps(v)}" for k, v in QUICK_MODEL.items()]
    quick += [f"train.{k}={json.dumps(v)}" for k, v in QUICK_TRAIN.items() if k != "epochs"]
    return quick + [f"train.epochs={EPOCHS}"]


def base_config(base_overrides=()) -> Config:
    """The base config of every variant: the quickstart's, changed by ``base_overrides``."""
    return apply_overrides(Config(), [*quick_overrides(), *base_overrides])


def _hdys_rows(base: Config) -> list[Variant]:
    return [Variant("hdys", "HDyS", (), role="hdys", param=str(base.model.latent_dim))]


def _baseline_rows(info: CorpusInfo) -> list[Variant]:
    """Each baseline trains on the datasets with dynamics it predicts and kinematics it reads."""
    from .model import MODELS

    rows = []
    for arch, label in BASELINE_NAMES.items():
        cls = MODELS[arch]
        supports, reads = set(getattr(cls, "supports", DYNAMICS)), set(getattr(cls, "reads", KINEMATICS))
        use = [d for d in info.labelled if supports & set(info.dynamics[d]) and reads & set(info.kinematics[d])
               and info.train.get(d)]
        if use:
            rows.append(Variant(arch, label, (f"model.arch={arch}", _datasets(use)), tuple(use), "baseline", arch))
    return rows


def table1_variants(info: CorpusInfo, base: Config) -> list[Variant]:
    rows = _hdys_rows(base)
    trainable = [d for d in info.datasets if info.train.get(d)]
    if len(trainable) > 1:
        rows += [Variant(f"single-{_slug(d)}", f"{d}-only HDyS", (_datasets([d]),), (d,), "single", d)
                 for d in info.labelled if info.train.get(d)]
        for d in trainable:
            rest = [x for x in trainable if x != d]
            if any(x in info.labelled for x in rest):
                rows.append(Variant(f"wo-{_slug(d)}", f"HDyS w/o {d}", (_datasets(rest),),
                                    tuple(x for x in rest if x in info.labelled), "drop", d))
    rows += [Variant("wo-align", "HDyS w/o L_align", ("model.use_align=false",), role="no_align"),
             Variant("wo-fdae", "HDyS w/o FDAE", ("model.use_fdae=false",), role="no_fdae")]
    rows += [Variant(f"latent{d}", f"HDyS-{d}D", (f"model.latent_dim={d}",), role="latent", param=str(d))
             for d in LATENT_DIMS if d != base.model.latent_dim]
    return rows + _baseline_rows(info)


def fifty_fifty(info: CorpusInfo, target: str) -> dict[str, int]:
    """Train sequences per dataset of HDyS-50/50 (paper Table 8): half of the target's (as
    ``train.fractions`` rounds it) plus the other datasets drawn proportionally to their sizes, so
    that the total equals the target's own count (the scale of HDyS-Single)."""
    n_t = info.train[target]
    half = max(1, round(0.5 * n_t))
    others = {d: n for d, n in info.train.items() if d != target and n > 0}
    want = min(n_t - half, sum(others.values()))
    total = sum(others.values()) or 1
    quota = {d: want * n / total for d, n in others.items()}
    counts = {d: int(np.floor(q)) for d, q in quota.items()}
    for d in sorted(others, key=lambda d: counts[d] - quota[d])[: want - sum(counts.values())]:
        counts[d] += 1  # largest remainders
    return {target: half, **{d: c for d, c in counts.items() if c > 0}}


def table2_variants(info: CorpusInfo, base: Config, targets=TABLE2_TARGETS) -> list[Variant]:
    """Single-50, 50/50 and Single per target (``lab`` and ``emg``; on a corpus without them the first
    two labelled datasets). Every row sees the same number of windows per epoch, one dataset's
    ``sequences_per_dataset``: the 50/50 row draws half of them from the target and the other half from
    the other datasets in proportion to its mix (``train.shares``), so its batches hold the mix."""
    chosen = [t for t in targets if t in info.labelled and info.train.get(t)]
    if not chosen:
        chosen = [d for d in info.labelled if info.train.get(d)][:2]
    rows = []
    for t in chosen:
        mix = fifty_fifty(info, t)
        fractions = {d: c / info.train[d] for d, c in mix.items() if c < info.train[d]}
        # an epoch draws as many windows as a single-dataset epoch, split as the mix is (half the target)
        shares = {d: c / info.train[t] for d, c in mix.items()}
        rows += [
            Variant(f"{_slug(t)}-single50", f"{t}: HDyS-Single-50",
                    (_datasets([t]), "train.fractions=" + json.dumps({t: 0.5})), (t,), "single50", t,
                    ((t, max(1, round(0.5 * info.train[t]))),)),
            Variant(f"{_slug(t)}-fifty-fifty", f"{t}: HDyS-50/50",
                    (_datasets(list(mix)), "train.fractions=" + json.dumps(fractions),
                     "train.shares=" + json.dumps(shares)), (t,), "fifty_fifty", t,
                    tuple(mix.items())),
            Variant(f"{_slug(t)}-single", f"{t}: HDyS-Single", (_datasets([t]),), (t,), "single", t,
                    ((t, info.train[t]),)),
        ]
    return rows


def table9_variants(info: CorpusInfo, base: Config) -> list[Variant]:
    return _hdys_rows(base) + [Variant("wo-temporal", "HDyS w/o Temporal Refinement",
                                       ("model.use_temporal=false",), role="no_temporal")]


def fig3_variants(info: CorpusInfo, base: Config) -> list[Variant]:
    return _hdys_rows(base) + [Variant("wo-align", "HDyS w/o L_align", ("model.use_align=false",), role="no_align")]


def finetune_target(info: CorpusInfo) -> str:
    """The GRF fine-tuning target among the corpora's datasets (Tables 4 and 10)."""
    found = [d for d in info.datasets if d in FINETUNE_TARGETS and info.train.get(d) and info.test.get(d)]
    if not found:
        raise ValueError(f"Tables 4 and 10 fine-tune on a GroundLink-like dataset ({' or '.join(FINETUNE_TARGETS)}) "
                         f"with train and test sequences; the corpora hold {info.datasets} (generate one with "
                         "`hdys synth --preset grf`, or `hdys ingest groundlink`, and add it to --data)")
    if len(info.datasets) < 2:
        raise ValueError("Tables 4 and 10 also need the pretraining corpus in --data (e.g. the default corpus)")
    return found[0]


def table4_variants(info: CorpusInfo, base: Config) -> list[Variant]:
    """GroundLinkNet and HDyS from scratch on the target, HDyS pretrained on the other datasets, and that
    model fine-tuned on the target (its ``train.init_from`` is the pretrained row's run: ``@hdys``)."""
    t = finetune_target(info)
    rest = [d for d in info.datasets if d != t and info.train.get(d)]
    return [Variant("groundlink", "GroundLinkNet", ("model.arch=groundlink", _datasets([t])), (t,), "baseline",
                    "groundlink"),
            Variant(f"{_slug(t)}-only", f"{PAPER_NAMES.get(t, t)}-only HDyS", (_datasets([t]),), (t,), "target_only",
                    t),
            Variant("hdys", "HDyS pretrained (not fine-tuned)", (_datasets(rest),), (t,), "pretrained", t),
            Variant("finetuned", "HDyS", ("train.init_from=@hdys", _datasets([t])), (t,), "hdys", t)]


@dataclass(frozen=True)
class Experiment:
    paper: str
    what: str
    variants: Callable[[CorpusInfo, Config], list[Variant]]
    reuse_table1: bool = False  # take finished runs of `table1` in the same out dir instead of training
    reuse_from: str = "table1"  # ... or of this experiment


EXPERIMENTS: dict[str, Experiment] = {
    "table1": Experiment("Table 1", "HDyS, single-dataset, drop-one-out, ablations, sizes and baselines",
                         table1_variants),
    "table2": Experiment("Tables 2 and 8", "scale vs heterogeneity: Single-50, 50/50, Single", table2_variants),
    "table3": Experiment("Table 3", "results per kinematics representation", lambda i, b: _hdys_rows(b),
                         reuse_table1=True),
    "table7": Experiment("Table 7", "parameter counts", lambda i, b: []),
    "table9": Experiment("Table 9", "w/o temporal refinement", table9_variants),
    "fig3": Experiment("Figure 3", "t-SNE of latents by representation and dataset, with and without L_align",
                       fig3_variants, reuse_table1=True),
    "table4": Experiment("Table 4", "GRF estimation: GroundLinkNet, HDyS on the target only, HDyS pretrained "
                         "and fine-tuned", table4_variants, reuse_table1=True),
    "table10": Experiment("Table 10", "the fine-tuned HDyS of Table 4 from each kinematics representation",
                          table4_variants, reuse_table1=True, reuse_from="table4"),
    "table5": Experiment("Table 5", "biomechanical simulation: HDyS's and the recording's torques, k = 1..5 steps "
                         "at 90 fps", lambda i, b: _hdys_rows(b), reuse_table1=True),
    "table11": Experiment("Table 11", "biomechanical simulation at 90, 120 and 150 fps, k = 1..5 steps",
                          lambda i, b: _hdys_rows(b), reuse_table1=True),
    "table6": Experiment("Table 6", "character control: PPO motion imitation with and without HDyS latents",
                         lambda i, b: _hdys_rows(b), reuse_table1=True),
}
# Epochs every variant trains by default (the paper's protocol: equal per-dataset exposure; an epoch draws
# train.sequences_per_dataset windows from every dataset, so a mixture of 5 datasets takes 5x the steps of
# one). 25 epochs of the CPU config are 500 steps of HDyS on 5 datasets (~6 min on 2 CPU cores). Table 7
# trains nothing.
DEFAULT_EPOCHS = {name: 0 if name == "table7" else 25 for name in EXPERIMENTS}
SIMULATION_FPS = {"table5": [90.0], "table11": [90.0, 120.0, 150.0]}
SIMULATION_K = 5


def variants(name: str, data: list[str] | CorpusInfo, base_overrides=()) -> list[Variant]:
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; known: {sorted(EXPERIMENTS)}")
    info = data if isinstance(data, CorpusInfo) else describe_corpora(list(data))
    return EXPERIMENTS[name].variants(info, base_config(base_overrides))
