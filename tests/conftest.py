"""Shared fixtures: a tiny synthetic corpus of three datasets with different representations."""
from __future__ import annotations

import numpy as np
import pytest

from hdys.config import Config
from hdys.schema import RAJAGOPAL_COORDINATES, Sequence


def synthetic_sequences(seed: int = 0, frames: int = 60):
    """Three datasets: 'a' (markers, joint angles -> Rajagopal torques), 'b' (markers, SMPL -> SMPL
    torques, GRF), 'c' (markers -> muscles, EMG). Values are smooth functions of time; these test the
    plumbing, not the physics (see tests/physics for that)."""
    rng = np.random.default_rng(seed)
    for ds in ("a", "b", "c"):
        for s in range(3):
            for k in range(2):
                t = np.arange(frames) / 30.0
                f = 1 + rng.random(17)
                q = np.zeros((frames, 23), np.float32)
                q[:, 6:] = 0.3 * np.sin(2 * np.pi * t[:, None] * f)
                q[:, 4] = 0.9
                base = rng.normal(size=(1, 12, 3)).astype(np.float32)
                mk = base + 0.1 * np.sin(2 * np.pi * t)[:, None, None]
                kw = dict(fps=30.0, sequence_id=f"{ds}{s}{k}", dataset=ds, subject=f"{ds}{s}", mass_kg=60.0 + 5 * s,
                          markers=mk, marker_names=[f"M{i}" for i in range(12)])
                if ds == "a":
                    kw.update(joint_angles=q, joint_angle_names=list(RAJAGOPAL_COORDINATES),
                              torque_rajagopal=10 * np.cos(q[:, 6:]))
                if ds == "b":
                    kw.update(smpl=0.1 * np.sin(t)[:, None] * np.ones((frames, 75), np.float32),
                              torque_smpl=np.sin(t)[:, None] * np.ones((frames, 69)),
                              grf=np.ones((frames, 2, 3)) * 300)
                if ds == "c":
                    kw.update(muscle_activation=np.clip(0.5 + 0.3 * np.sin(t)[:, None] * np.ones((frames, 4)), 0, 1),
                              muscle_names=["glmax1_r", "recfem_r", "soleus_r", "tibant_r"],
                              emg=np.abs(np.sin(t))[:, None] * np.ones((frames, 2)), emg_names=["rightquad", "leftquad"])
                yield Sequence(**kw)


@pytest.fixture(scope="session")
def synth_corpus(tmp_path_factory):
    from hdys.store import write_corpus
    path = tmp_path_factory.mktemp("corpus") / "c"
    write_corpus(path, synthetic_sequences(), progress=False)
    return path


def tiny_config(**train) -> Config:
    cfg = Config()
    cfg.model.latent_dim = 32
    cfg.model.encoder_hidden = (64, 32)
    cfg.model.point_layers = 1
    cfg.model.temporal_layers = 1
    cfg.train.epochs = 2
    cfg.train.sequences_per_dataset = 4
    cfg.train.batch_frames = 96
    cfg.train.window = 16
    cfg.train.checkpoint_every = 2
    for k, v in train.items():
        setattr(cfg.train, k, v)
    return cfg


def make_batch(corpus_path, cfg: Config, T: int = 16) -> dict:
    """A collated batch of every other train sequence of a corpus; fills the model's channel vocabularies."""
    from hdys.data import Normalizer, channel_vocabulary, collate
    from hdys.features import window_features
    from hdys.store import Corpus
    corpus = Corpus(corpus_path)
    stats = corpus.stats
    cfg.model.muscle_names = channel_vocabulary(stats, "muscle_activation")
    cfg.model.emg_names = channel_vocabulary(stats, "emg")
    norm = Normalizer.from_stats(stats, cfg.model.muscle_names, cfg.model.emg_names)
    feats = []
    for e in corpus.entries(split="train")[::2]:
        seq, before = corpus.read_window(e.sequence_id, 5, T)
        feats.append(window_features(seq, 5, T, before))
    vocab = {"muscle_activation": cfg.model.muscle_names, "emg": cfg.model.emg_names}
    return collate(feats, norm, vocab, T)
