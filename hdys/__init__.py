"""hdys: Homogeneous Dynamics Space for heterogeneous humans (Liu et al., CVPR 2025)."""
__version__ = "0.1.0"


def load(run_dir, device: str = "cpu"):
    """The trained model of a run directory, ready to predict: ``hdys.load(run).predict(path_or_sequence)``
    (see ``hdys.predict``)."""
    from .predict import load as _load
    return _load(run_dir, device)
