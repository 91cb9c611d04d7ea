"""hdys: Homogeneous Dynamics Space for heterogeneous humans (Liu et al., CVPR 2025)."""
__version__ = "0.1.0"
