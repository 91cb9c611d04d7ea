"""The HDyS model (paper §3.3): encoders, decoders, losses."""
from .hdys import HDyS, parameter_counts

__all__ = ["HDyS", "parameter_counts"]
