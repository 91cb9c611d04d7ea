"""Typed configuration. Paper defaults (§4.2) are labelled "paper"; the config is the only knob set.

A config is saved as JSON next to every checkpoint; ``--config FILE`` reads such a JSON (any subset of
fields) and ``key=value`` overrides use dotted names, e.g. ``model.latent_dim=64 train.epochs=3``.
"""
from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path

# default of model.corr_min_std and of the loss functions that take it (normalised units)
DEFAULT_CORR_MIN_STD = 0.05


@dataclass
class ModelConfig:
    arch: str = "hdys"  # a key of hdys.model.MODELS
    latent_dim: int = 128  # paper: 128 (ablations 32, 64)
    point_layers: int = 3  # paper: three-layer transformer encoders for markers / keypoints
    point_heads: int = 2  # paper: 2 heads
    encoder_hidden: tuple[int, ...] = (256, 128)  # paper: three-layer MLP encoders, hidden 256 and 128
    temporal_layers: int = 4  # paper: ID decoder transformer, 4 layers
    temporal_heads: int = 4  # paper: 4 heads
    max_window: int = 256  # longest window the temporal positional embedding supports (frames)
    # two-layer decoder MLP hidden sizes (paper: 32 for Rajagopal torque, sEMG, angle and keypoint
    # accelerations; 64 for SMPL torque, SMPL accelerations and muscle actions; GRF not in the paper)
    head_hidden: dict[str, int] = field(default_factory=lambda: {
        "torque_rajagopal": 32, "emg": 32, "joint_angles_acc": 32, "keypoints_acc": 32,
        "torque_smpl": 64, "smpl_acc": 64, "muscle_activation": 64, "grf": 32})
    use_temporal: bool = True  # ablation "w/o temporal refinement" (paper Table 9)
    use_fdae: bool = True  # ablation "w/o FDAE"
    use_align: bool = True  # ablation "w/o L_align"
    temperature: float = 0.1  # InfoNCE on cosine similarities / temperature (the paper's Eq. 3 uses <z1, z2>)
    # frames of a batch the InfoNCE terms use at most (a grid of every fd_frame_stride-th frame, thinned evenly;
    # a pair of latents uses the grid's frames of the windows both have)
    align_max_frames: int = 512
    fd_frame_stride: int = 1  # FDAE on every k-th frame of a window only (it is per frame; 1 = every frame)
    alpha_recon: float = 0.01  # paper: alpha_1
    # how the reconstruction terms add up: "sum", the paper's plain sum of one term per (representation,
    # dynamics) pair; "dynamics", the same total weight shared equally by the dynamics types (and by the
    # decoded accelerations of the FDAE), so that a type read from few representations (muscles, EMG)
    # is not outweighed by one read from many (torques)
    loss_balance: str = "sum"
    alpha_align: float = 0.05  # paper: alpha_2
    # weight of a correlation term for the dynamics judged by PCC (muscle activations, EMG): each of their
    # reconstruction terms becomes L1 + corr_weight * (1 - r), r the Pearson correlation over a window's
    # frames, per channel (0: the paper's L1 only). L1 barely rewards the shape of small activations; PCC
    # judges only the shape.
    corr_weight: float = 0.0
    # the correlation term leaves out (window, channel) pairs whose reference std is below this (normalised
    # units): a channel at rest is label noise, which no prediction correlates with
    corr_min_std: float = DEFAULT_CORR_MIN_STD
    muscle_names: list[str] = field(default_factory=list)  # channel vocabulary, filled from the data
    emg_names: list[str] = field(default_factory=list)

    def __post_init__(self):
        if self.latent_dim <= 0 or self.latent_dim % self.point_heads or self.latent_dim % self.temporal_heads:
            raise ValueError(f"model.latent_dim must be positive and divisible by the head counts, got "
                             f"{self.latent_dim} (heads {self.point_heads}, {self.temporal_heads})")
        if self.temperature <= 0:
            raise ValueError(f"model.temperature must be > 0, got {self.temperature}")
        if self.fd_frame_stride < 1:
            raise ValueError(f"model.fd_frame_stride must be >= 1, got {self.fd_frame_stride}")
        if self.loss_balance not in ("sum", "dynamics"):
            raise ValueError(f"model.loss_balance must be sum or dynamics, got {self.loss_balance!r}")
        if self.max_window < 2:
            raise ValueError(f"model.max_window must be >= 2, got {self.max_window}")
        if self.corr_weight < 0:
            raise ValueError(f"model.corr_weight must be >= 0, got {self.corr_weight}")
        if self.corr_min_std < 0:
            raise ValueError(f"model.corr_min_std must be >= 0, got {self.corr_min_std}")


@dataclass
class TrainConfig:
    epochs: int = 1000  # paper: 1000
    sequences_per_dataset: int = 3000  # paper: balanced sampling, 3000 sequences per dataset per epoch
    batch_frames: int = 9600  # paper: 9600 frames per (global) batch
    window: int = 32  # frames per window fed to the temporal transformer
    lr: float = 1e-3  # paper: AdamW, 1e-3
    # constant (paper); cosine: linear warm-up over warmup_steps, then cosine decay to lr * lr_final over
    # the run (its length: max_steps, epochs or budget_minutes, whichever ends it first); wsd (warm-up,
    # stable, decay): the warm-up, the full rate, then a linear decay to lr * lr_final over the last
    # decay_fraction of the run
    lr_schedule: str = "constant"
    warmup_steps: int = 0
    lr_final: float = 0.05
    decay_fraction: float = 0.2
    weight_decay: float = 1e-2
    grad_clip: float = 5.0
    grad_accum: int = 1  # micro-batches per step on each process; the global batch is split evenly
    seed: int = 0
    datasets: list[str] = field(default_factory=list)  # train on these datasets only (empty: all)
    fractions: dict[str, float] = field(default_factory=dict)  # dataset -> share of its train sequences used
    # dataset -> windows drawn per epoch, as a multiple of sequences_per_dataset (1 where not given: the
    # paper's balanced sampling); a composition such as Table 8's 50/50 mix is realised with these
    shares: dict[str, float] = field(default_factory=dict)
    stratified: bool = False  # every batch holds every dataset in its fixed share (else: shuffled epoch)
    # probability that a training window is replaced by its left-right mirror image (features.mirror_sequence;
    # windows without a mirror rule are used as they are)
    mirror: float = 0.0
    checkpoint_every: int = 200  # steps; a checkpoint is also written at every epoch end
    keep_checkpoints: int = 2
    max_steps: int = 0  # stop after this many optimizer steps in total (0 = no limit)
    budget_minutes: float = 0.0  # stop (with a checkpoint) after this much wall time (0 = no limit)
    device: str = "auto"  # auto | cpu | cuda
    # fp32, or bf16: matmuls in bfloat16 under autocast (weights, optimiser and losses stay float32);
    # auto: bf16 where the hardware has bfloat16 matrix units (CPUs with AMX, CUDA with bf16), else fp32
    precision: str = "fp32"
    threads: int = 0  # torch intra-op threads (0 = torch default)
    cache_mb: int = 4096  # training sequences kept in memory once read (the rest is read window by window)
    # fine-tuning (hdys finetune): start from this run's weights, normalisation and model configuration
    init_from: str = ""
    freeze: list[str] = field(default_factory=list)  # parameter-name prefixes not trained, e.g. ["encoders"]

    def __post_init__(self):
        for name in ("epochs", "sequences_per_dataset", "batch_frames", "window", "grad_accum", "checkpoint_every"):
            if getattr(self, name) <= 0:
                raise ValueError(f"train.{name} must be > 0, got {getattr(self, name)}")
        if self.batch_frames < self.window:
            raise ValueError(f"train.batch_frames ({self.batch_frames}) must be >= train.window ({self.window})")
        for name, f in self.fractions.items():
            if not 0.0 < f <= 1.0:
                raise ValueError(f"train.fractions[{name!r}] must be in (0, 1], got {f}")
        for name, f in self.shares.items():
            if not f >= 0.0:
                raise ValueError(f"train.shares[{name!r}] must be >= 0, got {f}")
        if not 0.0 <= self.mirror <= 1.0:
            raise ValueError(f"train.mirror must be in [0, 1], got {self.mirror}")
        if self.lr_schedule not in ("constant", "cosine", "wsd"):
            raise ValueError(f"train.lr_schedule must be constant, cosine or wsd, got {self.lr_schedule!r}")
        if self.warmup_steps < 0 or not 0.0 <= self.lr_final <= 1.0 or not 0.0 < self.decay_fraction <= 1.0:
            raise ValueError(f"train.warmup_steps must be >= 0, train.lr_final in [0, 1] and train.decay_fraction "
                             f"in (0, 1], got {self.warmup_steps}, {self.lr_final}, {self.decay_fraction}")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ValueError(f"train.precision must be auto, fp32 or bf16, got {self.precision!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"train.device must be auto, cpu or cuda, got {self.device!r}")


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> "Config":
        return _build(cls, d, "")


def _convert(tp, value, where: str):
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected a mapping, got {value!r}")
        return _build(tp, value, where + ".")
    if origin is tuple:
        return tuple(_convert(typing.get_args(tp)[0], v, where) for v in value)
    if origin is list:
        return [_convert(typing.get_args(tp)[0], v, where) for v in value]
    if origin is dict:
        kt, vt = typing.get_args(tp)
        return {str(k): _convert(vt, v, where) for k, v in value.items()}
    if tp is bool:
        if isinstance(value, str):
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(f"{where}: expected true/false, got {value!r}")
        return bool(value)
    if tp in (int, float, str):
        try:
            out = tp(value)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: expected {tp.__name__}, got {value!r}") from None
        if tp is int and isinstance(value, float) and value != out:
            raise ValueError(f"{where}: expected an integer, got {value!r}")
        return out
    return value


def _build(cls, d: dict, prefix: str):
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - names)
    if unknown:
        raise ValueError(f"unknown config field(s) {[prefix + u for u in unknown]}; known: "
                         f"{sorted(prefix + n for n in names)}")
    return cls(**{k: _convert(hints[k], v, prefix + k) for k, v in d.items()})


def apply_overrides(cfg: Config, overrides: list[str]) -> Config:
    """Apply ``section.field=value`` strings; values are parsed as JSON where possible."""
    d = cfg.to_json()
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"override {item!r}: expected section.field=value, e.g. model.latent_dim=64")
        key, raw = item.split("=", 1)
        parts = key.strip().split(".")
        if len(parts) != 2 or parts[0] not in d:
            raise ValueError(f"override {item!r}: expected model.<field> or train.<field>")
        if parts[1] not in d[parts[0]]:
            raise ValueError(f"override {item!r}: unknown field {key!r}; known: "
                             f"{sorted(parts[0] + '.' + k for k in d[parts[0]])}")
        d[parts[0]][parts[1]] = override_value(raw)
    return Config.from_json(d)


def override_value(raw: str):
    """The value of a ``key=value`` override: JSON where it parses (numbers, booleans, lists, dicts), else the
    string as given."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def load_config(path: str | Path | None, overrides: list[str] = ()) -> Config:
    cfg = Config()
    if path is not None:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: cannot read config JSON: {exc}") from None
        base = cfg.to_json()
        for section, values in data.items():
            if section not in base:
                raise ValueError(f"{path}: unknown config section {section!r}; known: model, train")
            base[section].update(values)
        cfg = Config.from_json(base)
    return apply_overrides(cfg, list(overrides))


# Named variants of the paper's ablations, as override lists (used by tests and experiments).
ABLATIONS: dict[str, list[str]] = {
    "hdys": [],
    "no_align": ["model.use_align=false"],
    "no_fdae": ["model.use_fdae=false"],
    "no_temporal": ["model.use_temporal=false"],
    "latent32": ["model.latent_dim=32"],
    "latent64": ["model.latent_dim=64"],
}
