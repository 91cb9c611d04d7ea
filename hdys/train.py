"""Training (paper §4.2): AdamW, balanced sampling, batches counted in frames, deterministic, resumable,
data-parallel over ``torch.distributed`` (gloo on CPU, nccl on GPU; start with ``torchrun``).

The global batch of a step is split into ``world_size x grad_accum`` micro-batches (windows dealt
round-robin); each process runs ``grad_accum`` of them and the gradients are averaged over all of them,
so a 2-process run equals a 1-process run with ``grad_accum=2`` up to float summation order.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from .checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from .config import Config
from .data import Normalizer, batches, channel_vocabulary, collate, epoch_windows
from .features import mirror_sequence, smooth_jittery_points, window_features, window_span
from .locks import acquire
from .model import build_model, parameter_counts, with_paper_vocabularies
from .schema import ARRAY_KEYS
from .store import Corpus, atomic_write_json, merged_stats

log = logging.getLogger("hdys.train")


class TrainingError(ValueError):
    """Training cannot go on (a non-finite loss or gradient: bad data or a diverging rate); the last
    checkpoint is left as it was. A ValueError, so that the CLI reports it as a clean error."""


STOP_REASONS = (None, "max_steps", "budget", "SIGTERM")  # in increasing precedence (see Trainer._agreed)
RESUME_OVERRIDABLE = {"epochs", "max_steps", "budget_minutes", "checkpoint_every", "device", "threads", "precision",
                      "cache_mb"}


@dataclass(frozen=True)
class WindowRef:
    """A training sequence of one of the corpora (``sequence_id`` is unique across corpora)."""
    sequence_id: str
    frames: int
    corpus: int
    local_id: str


def subset(refs: list[WindowRef], fraction: float, seed: int) -> list[WindowRef]:
    """A deterministic share of the sequences (at least one), independent of their order."""
    ranked = sorted(refs, key=lambda r: hashlib.sha256(f"{seed}:{r.sequence_id}".encode()).hexdigest())
    return sorted(ranked[: max(1, round(fraction * len(refs)))], key=lambda r: r.sequence_id)


def lr_factor(tc, step: int, progress: float) -> float:
    """Multiplier of ``train.lr`` at optimiser step ``step`` (0-based) of a run ``progress`` in [0, 1]
    through: 1 for the constant schedule; otherwise a linear warm-up over ``warmup_steps`` times, for cosine,
    lr_final + (1 - lr_final) (1 + cos(pi progress)) / 2, for wsd, 1 until the last ``decay_fraction`` of the
    run and from there a straight line down to lr_final."""
    if tc.lr_schedule == "constant":
        return 1.0
    warm = min(1.0, (step + 1) / tc.warmup_steps) if tc.warmup_steps else 1.0
    p = min(max(progress, 0.0), 1.0)
    if tc.lr_schedule == "wsd":
        left = min(1.0, (1.0 - p) / tc.decay_fraction)  # 1 before the decay, 0 at the end
        return warm * (tc.lr_final + (1.0 - tc.lr_final) * left)
    return warm * (tc.lr_final + (1.0 - tc.lr_final) * 0.5 * (1.0 + math.cos(math.pi * p)))


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype ``train.precision`` asks for on ``device`` (None: float32 throughout)."""
    if precision == "fp32":
        return None
    if precision == "auto":
        if device.type == "cuda":
            ok = torch.cuda.is_bf16_supported()
        else:  # bfloat16 matmuls pay only with AMX tiles (5x float32 on the development CPU)
            ok = getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)()
        return torch.bfloat16 if ok else None
    return torch.bfloat16


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("train.device=cuda but no CUDA device is available; use auto or cpu")
    return torch.device(name)


class Trainer:
    def __init__(self, cfg: Config, data: list[str], out: str | Path, resume: bool = False,
                 progress: bool = True):
        self.cfg, self.data, self.out, self.resume, self.progress = cfg, data, Path(out), resume, progress
        self.rank, self.world = 0, 1

    # ---------------------------------------------------------------------------------------------

    def setup(self) -> None:
        self._setup_process()
        saved = self._resumed_config()
        self._setup_windows()
        self._setup_normalizer(resumed=saved is not None)
        self._setup_model()
        if self.rank == 0:
            self._write_run_files()

    def _setup_process(self) -> None:
        """Distributed rank and world, device, autocast dtype, threads; on rank 0 the run directory (locked)
        and its log."""
        cfg = self.cfg
        if dist.is_available() and "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1:
            if not dist.is_initialized():
                backend = "nccl" if torch.cuda.is_available() and cfg.train.device != "cpu" else "gloo"
                dist.init_process_group(backend)
            self.rank, self.world = dist.get_rank(), dist.get_world_size()
        self.device = resolve_device(cfg.train.device)
        self.amp = autocast_dtype(cfg.train.precision, self.device)
        if self.device.type == "cuda" and self.world > 1:
            self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        if cfg.train.threads:
            torch.set_num_threads(cfg.train.threads)
        if self.rank == 0:  # only rank 0 looks at and writes the run directory
            if self.out.exists() and any(self.out.iterdir()) and not self.resume:
                raise FileExistsError(f"{self.out} exists and is not empty; pass --resume to continue it "
                                      "or choose another --out")
            self.out.mkdir(parents=True, exist_ok=True)
            self._lock = acquire(self.out, "this hdys train")  # one writer per run directory
            self._setup_logging()
        if self.world > 1:
            dist.barrier()

    def _resumed_config(self) -> Config | None:
        """A resumed run keeps its own config (``self.cfg`` becomes it, with the ``RESUME_OVERRIDABLE`` train
        fields of the given one); returns it, or None for a new run."""
        if not (self.resume and (self.out / "config.json").exists()):
            return None
        saved = Config.from_json(json.loads((self.out / "config.json").read_text()))
        for k, v in vars(self.cfg.train).items():
            if k in RESUME_OVERRIDABLE:
                setattr(saved.train, k, v)
        self.cfg = saved
        return saved

    def _setup_windows(self) -> None:
        """The corpora and their training sequences per dataset (``train.datasets``, ``fractions``)."""
        self.corpora = [Corpus(p) for p in self.data]
        self._cache: dict = {}
        self._cached_bytes = 0
        self.by_dataset: dict[str, list[WindowRef]] = {}
        tc = self.cfg.train
        for ci, corpus in enumerate(self.corpora):
            for e in corpus.entries(split="train"):
                if tc.datasets and e.dataset not in tc.datasets:
                    continue
                ref = WindowRef(f"{ci}:{e.sequence_id}", e.frames, ci, e.sequence_id)
                self.by_dataset.setdefault(e.dataset, []).append(ref)
        missing = sorted(set(tc.datasets) - set(self.by_dataset))
        if missing:
            raise ValueError(f"train.datasets {missing} have no training sequences in {', '.join(self.data)}; "
                             f"available: {sorted({e.dataset for c in self.corpora for e in c.entries()})}")
        for key in ("fractions", "shares"):
            for name in getattr(tc, key):
                if name not in self.by_dataset:
                    raise ValueError(f"train.{key} names dataset {name!r}, which is not being trained on")
        for name, frac in tc.fractions.items():
            self.by_dataset[name] = subset(self.by_dataset[name], frac, tc.seed)
        self.refs: dict[str, WindowRef] = {r.sequence_id: r for refs in self.by_dataset.values() for r in refs}
        if not self.refs:
            raise ValueError(f"no training sequences in {', '.join(self.data)}")

    def _setup_normalizer(self, resumed: bool) -> None:
        """The normaliser and channel vocabularies: the run's own (resumed), the pretrained run's (fine-tuning;
        its model configuration too) or new ones from the corpora's statistics."""
        cfg = self.cfg
        if resumed:
            self.norm = Normalizer.from_json(json.loads((self.out / "normalizer.json").read_text()))
        elif cfg.train.init_from:  # fine-tuning: the pretrained run's architecture, vocabularies and scales
            base = Path(cfg.train.init_from)
            try:
                pretrained = Config.from_json(json.loads((base / "config.json").read_text()))
                self.norm = Normalizer.from_json(json.loads((base / "normalizer.json").read_text()))
            except (OSError, ValueError) as exc:
                raise ValueError(f"train.init_from={base}: not a readable run directory ({exc})") from None
            if dataclasses.asdict(pretrained.model) != dataclasses.asdict(cfg.model):
                log.info("fine-tuning keeps the model configuration of %s", base)
            cfg.model = pretrained.model
        else:
            stats = merged_stats(self.corpora)
            cfg.model.muscle_names = channel_vocabulary(stats, "muscle_activation")
            cfg.model.emg_names = channel_vocabulary(stats, "emg")
            self.norm = Normalizer.from_stats(stats, cfg.model.muscle_names, cfg.model.emg_names)
        self.vocab = {"muscle_activation": cfg.model.muscle_names, "emg": cfg.model.emg_names}
        if cfg.train.window > cfg.model.max_window:
            raise ValueError(f"train.window={cfg.train.window} exceeds model.max_window={cfg.model.max_window}")

    def _setup_model(self) -> None:
        """The model and optimiser, from the run's last checkpoint (resumed), the pretrained run's weights
        (fine-tuning) or fresh."""
        cfg = self.cfg
        torch.manual_seed(cfg.train.seed)
        self.model = build_model(cfg.model).to(self.device)
        trainable = freeze(self.model, cfg.train.freeze)
        # the fused kernel updates all parameters in one pass: ~5x faster than the per-tensor loop torch uses on
        # the CPU by default, ~7 % of a quickstart step (benchmarks/RESULTS.md)
        fused = True if self.device.type in ("cpu", "cuda") else None  # None: torch's default elsewhere
        self.opt = torch.optim.AdamW(trainable, lr=cfg.train.lr, weight_decay=cfg.train.weight_decay, fused=fused)
        self.epoch, self.batch_index, self.step, self.elapsed = 0, 0, 0, 0.0
        self.epoch_steps = 1  # batches in the current epoch (set when its plan is drawn)
        ckpt = latest_checkpoint(self.out) if self.resume else None
        if ckpt is None and cfg.train.init_from:
            pretrained_ckpt = latest_checkpoint(Path(cfg.train.init_from))
            if pretrained_ckpt is None:
                raise ValueError(f"train.init_from={cfg.train.init_from}: the run has no checkpoint")
            load_checkpoint(pretrained_ckpt, self.model)  # weights only: a fresh optimiser
            log.info("fine-tuning from %s (%d of %d parameter tensors trained)", pretrained_ckpt, len(trainable),
                     len(list(self.model.parameters())))
        if ckpt is not None:
            state = load_checkpoint(ckpt, self.model, self.opt)
            for group in self.opt.param_groups:  # the checkpoint's flags may be another device's or version's
                group["fused"], group["foreach"] = fused, None
            self.epoch, self.batch_index = state["epoch"], state["batch_index"]
            self.step, self.elapsed = state["step"], state.get("elapsed_s", 0.0)
            log.info("resumed from %s (epoch %d, batch %d, step %d)", ckpt, self.epoch, self.batch_index, self.step)
            if self.rank == 0:
                truncate_metrics(self.out / "metrics.jsonl", self.step)
        self._saved = (self.epoch, self.batch_index, self.step)

    def _write_run_files(self) -> None:
        """``config.json`` and ``normalizer.json`` in the run directory; the model's size and data in the log."""
        atomic_write_json(self.out / "config.json", self.cfg.to_json())
        atomic_write_json(self.out / "normalizer.json", self.norm.to_json())
        counts = parameter_counts(self.model)
        log.info("model parameters: %s, total %d", counts, sum(counts.values()))
        log.info("training on %s: %s", ", ".join(self.data),
                 {k: len(v) for k, v in sorted(self.by_dataset.items())})

    def _setup_logging(self) -> None:
        handler = logging.FileHandler(self.out / "train.log")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logging.getLogger("hdys").addHandler(handler)
        logging.getLogger("hdys").setLevel(logging.INFO)
        self._log_handler = handler

    # ---------------------------------------------------------------------------------------------

    def _read(self, window: tuple[str, int], mirror: bool = False):
        """Features of one (sequence, start) window, its mirror image if ``mirror`` and it has one. Whole
        sequences are read (their points filtered as a whole, as in prediction: ``smooth_jittery_points``) and
        kept in memory, up to ``train.cache_mb``; past it, a window's sequence is read again each time."""
        ref, length = self.refs[window[0]], self.cfg.train.window
        seq = self._cache.get(window[0])
        if seq is None:
            seq = smooth_jittery_points(self.corpora[ref.corpus].read(ref.local_id, verify=True))
            if self._cached_bytes < self.cfg.train.cache_mb * 2 ** 20:
                self._cache[window[0]] = seq
                self._cached_bytes += sum(getattr(seq, k).nbytes for k in ARRAY_KEYS
                                          if getattr(seq, k) is not None)
        a, b, before = window_span(ref.frames, window[1], length)
        span = seq.slice(a, b)
        if mirror:
            span = mirror_sequence(span) or span
        return window_features(span, window[1], min(length, ref.frames), before)

    def _micro_batches(self, global_batch: list) -> list[list]:
        n = self.world * self.cfg.train.grad_accum
        parts = [global_batch[i::n] for i in range(n)]
        return [parts[self.rank + self.world * j] for j in range(self.cfg.train.grad_accum)]

    def _step(self, global_batch: list) -> dict[str, float]:
        tc = self.cfg.train
        self.model.train()
        for p in self.model.parameters():  # every parameter steps, used in this batch or not, on every rank
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            else:
                p.grad.zero_()
        logs: dict[str, float] = {}
        n_micro = self.world * tc.grad_accum
        # which windows are mirrored: drawn from (seed, step), the same on every process and after a resume
        flags = np.random.default_rng([tc.seed, 1, self.step]).random(len(global_batch)) < tc.mirror
        for mb in self._micro_batches(list(zip(global_batch, flags))):
            if not mb:
                continue
            batch = collate([self._read(w, m) for w, m in mb], self.norm, self.vocab, tc.window, self.device)
            with torch.autocast(self.device.type, dtype=self.amp or torch.bfloat16, enabled=self.amp is not None):
                loss, part = self.model(batch)
            if not torch.isfinite(loss):
                raise TrainingError(self._non_finite("loss", float(loss.detach()), [w for w, _ in mb]))
            (loss / n_micro).backward()
            for k, v in part.items():
                logs[k] = logs.get(k, 0.0) + v / tc.grad_accum
        if self.world > 1:
            for p in self.model.parameters():
                dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), tc.grad_clip)
        if not torch.isfinite(norm):
            raise TrainingError(self._non_finite("gradient norm", float(norm), global_batch))
        lr = tc.lr * lr_factor(tc, self.step, self.run_fraction())
        for group in self.opt.param_groups:
            group["lr"] = lr
        self.opt.step()
        logs["lr"] = lr
        return logs

    def _non_finite(self, what: str, value: float, windows: list) -> str:
        """The message for a non-finite loss or gradient: the step and the windows whose inputs or
        targets hold inf, or NaN where the schema does not allow it (NaN marks a missing value, masked in
        the loss: an occluded marker, the CoP of a foot off the ground), by dataset, sequence and array,
        so the bad data can be found."""
        def bad_values(x: np.ndarray, nan_ok: bool) -> bool:
            return bool(np.isinf(x).any() or (not nan_ok and np.isnan(x).any()))

        bad = []
        for seq_id, start in windows:
            ref = self.refs[seq_id]
            seq = self.corpora[ref.corpus].read(ref.local_id)
            keys = [k for k, spec in ARRAY_KEYS.items() if getattr(seq, k) is not None
                    and getattr(seq, k).dtype.kind == "f" and bad_values(getattr(seq, k), spec.nan_ok)]
            if keys:
                dataset = next(d for d, refs in self.by_dataset.items() if ref in refs)
                bad.append(f"{dataset}/{ref.local_id} ({', '.join(keys)})")
        where = ("; non-finite values in " + ", ".join(sorted(set(bad)))) if bad else \
            "; the batch's arrays hold no inf and NaN only where it marks a missing value (try a lower train.lr " \
            "or train.grad_clip)"
        return (f"step {self.step + 1}: the {what} is {value} in {self.out}{where}. Training stopped; no "
                f"checkpoint of this step was written (the last one is kept)")

    def run_fraction(self) -> float:
        """How far through its run training is, in [0, 1]: the furthest of steps / max_steps, epochs and
        elapsed / budget_minutes (whichever limit is set and will end the run first)."""
        tc = self.cfg.train
        done = [(self.epoch + self.batch_index / max(1, self.epoch_steps)) / tc.epochs]
        if tc.max_steps:
            done.append(self.step / tc.max_steps)
        if tc.budget_minutes:
            done.append(self.elapsed / (60.0 * tc.budget_minutes))
        return min(1.0, max(done))

    def save(self) -> None:
        """Write a checkpoint, unless nothing changed since the last one (a finished run resumed)."""
        if self.rank != 0 or self._saved == (self.epoch, self.batch_index, self.step):
            return
        self._saved = (self.epoch, self.batch_index, self.step)
        state = {"epoch": self.epoch, "batch_index": self.batch_index, "elapsed_s": self.elapsed,
                 "config": self.cfg.to_json()}
        save_checkpoint(self.out, self.step, self.model, self.opt, state, keep=self.cfg.train.keep_checkpoints)

    def train(self) -> dict:
        """Run until the last epoch, ``max_steps`` or the time budget; returns a summary."""
        tc = self.cfg.train
        per_batch = max(1, tc.batch_frames // tc.window)
        t0 = time.perf_counter() - self.elapsed
        metrics_path = self.out / "metrics.jsonl"
        stop = None
        interrupted = {"flag": False}
        previous = signal.getsignal(signal.SIGTERM)
        if self.rank == 0:
            signal.signal(signal.SIGTERM, lambda *_: interrupted.__setitem__("flag", True))
        try:
            while self.epoch < tc.epochs and stop is None:
                plan = batches(epoch_windows(self.by_dataset, tc.window, tc.sequences_per_dataset, tc.seed,
                                             self.epoch, tc.shares, tc.stratified), per_batch)
                self.epoch_steps = len(plan)
                bar = tqdm(total=len(plan), initial=self.batch_index, desc=f"epoch {self.epoch + 1}/{tc.epochs}",
                           disable=not self.progress or self.rank != 0, leave=False, dynamic_ncols=True)
                while self.batch_index < len(plan):
                    # checked before a step, so that resuming a finished run trains no further
                    if tc.max_steps and self.step >= tc.max_steps:
                        stop = "max_steps"
                    elif tc.budget_minutes and self.elapsed >= 60 * tc.budget_minutes:
                        stop = "budget"
                    elif interrupted["flag"]:
                        stop = "SIGTERM"
                    stop = self._agreed(stop)
                    if stop:
                        break
                    ts = time.perf_counter()
                    logs = self._step(plan[self.batch_index])
                    self.batch_index += 1
                    self.step += 1
                    frames = sum(min(tc.window, self.refs[w[0]].frames) for w in plan[self.batch_index - 1])
                    fps = frames / max(time.perf_counter() - ts, 1e-9)
                    self.elapsed = time.perf_counter() - t0
                    bar.update(1)
                    bar.set_postfix(loss=f"{logs.get('loss', 0):.4f}", frames_s=f"{fps:.0f}")
                    if self.rank == 0:
                        with metrics_path.open("a") as fh:
                            fh.write(json.dumps({"step": self.step, "epoch": self.epoch, "frames_per_s": fps,
                                                 "time_s": self.elapsed, **logs}) + "\n")
                    if self.step % tc.checkpoint_every == 0:
                        self.save()
                bar.close()
                if self.batch_index >= len(plan):
                    self.epoch += 1
                    self.batch_index = 0
                self.save()
        except KeyboardInterrupt:
            self.save()
            log.warning("interrupted at step %d; checkpoint written, continue with --resume", self.step)
            raise
        finally:
            if self.rank == 0:
                signal.signal(signal.SIGTERM, previous)
        summary = {"steps": self.step, "epochs_done": self.epoch, "stopped_by": stop or "epochs",
                   "elapsed_s": self.elapsed}
        if stop == "SIGTERM":  # the checkpoint is written; end the process as terminated (exit 143)
            log.warning("terminated at step %d; checkpoint written, continue with --resume", self.step)
            raise SystemExit(128 + signal.SIGTERM)
        if self.rank == 0:
            log.info("training finished: %s", summary)
            self._plot_curve(metrics_path)
        return summary

    def _agreed(self, stop: str | None) -> str | None:
        """The stop decision of all processes: each reads its own clock (and only rank 0 its SIGTERM), so
        one could stop a step before the others, which would then wait for it in the gradient all-reduce
        forever; any process that stops stops them all."""
        if self.world == 1:
            return stop
        flag = torch.tensor([STOP_REASONS.index(stop)], device=self.device)  # nccl reduces only GPU tensors
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return STOP_REASONS[int(flag)]

    def _plot_curve(self, metrics_path: Path) -> None:
        if not metrics_path.exists():
            return
        rows = [json.loads(line) for line in metrics_path.read_text().splitlines() if line.strip()]
        if len(rows) < 2:
            return
        from .plots import plot_training_curve
        plot_training_curve(self.out / "training_curve.png", [r["step"] for r in rows],
                            [r["loss"] for r in rows], "HDyS training loss")

    def close(self) -> None:
        for c in getattr(self, "corpora", []):
            c.close()
        if getattr(self, "_lock", None) is not None:
            self._lock.release()
        handler = getattr(self, "_log_handler", None)
        if handler is not None:
            logging.getLogger("hdys").removeHandler(handler)
            handler.close()


def freeze(model: torch.nn.Module, prefixes: list[str]) -> list[torch.nn.Parameter]:
    """Stop training the parameters whose names start with one of ``prefixes`` (module names such as
    ``encoders``, ``temporal``, ``heads.grf``); returns the parameters left to train. An unknown prefix
    is an error naming the model's modules."""
    names = [n for n, _ in model.named_parameters()]
    for prefix in prefixes:
        if not any(n == prefix or n.startswith(prefix + ".") for n in names):
            tops = sorted({n.split(".")[0] for n in names})
            raise ValueError(f"train.freeze: no parameters under {prefix!r}; the model's modules are {tops}")
    trainable = []
    for n, p in model.named_parameters():
        frozen = any(n == f or n.startswith(f + ".") for f in prefixes)
        p.requires_grad_(not frozen)
        if not frozen:
            trainable.append(p)
    if not trainable:
        raise ValueError(f"train.freeze={prefixes} leaves nothing to train")
    return trainable


def truncate_metrics(path: Path, step: int) -> None:
    """Drop the rows of ``metrics.jsonl`` after ``step`` (logged after the checkpoint a run resumes
    from; they are logged again) and a last line cut short by a kill."""
    if not path.exists():
        return
    keep = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and row.get("step", 0) <= step:
            keep.append(line)
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(k + "\n" for k in keep))
    os.replace(tmp, path)


def train(cfg: Config, data: list[str], out: str | Path, resume: bool = False, progress: bool = True) -> dict:
    trainer = Trainer(cfg, data, out, resume=resume, progress=progress)
    try:
        trainer.setup()
        return trainer.train()
    finally:
        trainer.close()


def model_parameter_table(cfg: Config | None = None) -> tuple[dict[str, int], int]:
    """Parameter count per module of the default model (with the paper's 402 MinT muscles and 8 MiA
    channels as the channel vocabularies) and the total."""
    cfg = cfg or Config()
    counts = parameter_counts(build_model(with_paper_vocabularies(cfg.model)))
    return counts, int(np.sum(list(counts.values())))
