"""The sizes of the generated corpora (``hdys synth --preset``), as plain data: the CLI lists them without
loading the physics (MuJoCo), which :mod:`hdys.physics.fixture` generates them with."""

# subjects per domain (``domain_subjects``: where a domain has another number), sequences per subject, duration
# range (s), and for the two SO domains a shorter one. The quick corpus's emg domain has 21 subjects: at 12 its
# EMG model is short of data (benchmarks/RESULTS.md, "Twice the `emg` data").
PRESETS = {
    "tiny": {"subjects": 3, "sequences": 2, "duration": (1.0, 2.0), "so_duration": (1.0, 1.5)},
    "quick": {"subjects": 12, "sequences": 10, "duration": (2.5, 4.0), "so_duration": (2.0, 3.0),
              "domain_subjects": {"emg": 21}},
    "default": {"subjects": 40, "sequences": 12, "duration": (3.0, 5.0), "so_duration": (2.0, 3.0)},
    "large": {"subjects": 150, "sequences": 16, "duration": (3.0, 6.0), "so_duration": (2.0, 4.0)},
    # GroundLink-like: 7 subjects, only the grf domain (a fine-tuning target)
    "grf": {"subjects": 7, "sequences": 12, "duration": (3.0, 5.0), "so_duration": (2.0, 3.0), "domains": ("grf",)},
}


def preset_subjects(preset: str, domain: str) -> int:
    """The number of subjects of ``domain`` in a preset's corpus."""
    cfg = PRESETS[preset]
    return cfg.get("domain_subjects", {}).get(domain, cfg["subjects"])
