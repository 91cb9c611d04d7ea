"""A small, physically exact corpus generator (the project's training fixture).

Two MuJoCo bodies are built in code (:mod:`hdys.physics.bodies`): the Rajagopal 2015 body, read from
``Rajagopal2015.osim`` and scaled per subject (:mod:`hdys.physics.osim_model`), and an SMPL-topology humanoid.
Smooth parametric motions with analytic derivatives (:mod:`hdys.physics.fourier`; their generators
:mod:`hdys.physics.motions` and :mod:`hdys.physics.smpl_motions`, their typed gaits :mod:`hdys.physics.timing`;
on the ground, the feet planted by the planner of :mod:`hdys.physics.locomotion`: rigs :mod:`~hdys.physics.rig`, shapes
:mod:`~hdys.physics.shapes`, balance :mod:`~hdys.physics.balance`, foot plans :mod:`~hdys.physics.plans` and
:mod:`~hdys.physics.gait`, leg IK :mod:`~hdys.physics.legs`, flight :mod:`~hdys.physics.flight`) are pushed
through MuJoCo inverse dynamics (:mod:`hdys.physics.inverse`), a real static optimisation with the 80 muscles
of myo-sim's ``myolegs`` model (:mod:`hdys.physics.myolegs`, :mod:`hdys.physics.static_opt`) and an sEMG
envelope model (:mod:`hdys.physics.emg`); :func:`hdys.physics.fixture.make_fixture` assembles five domains of
canonical ``Sequence`` records.

Motions on the ground are labelled with contact-aware inverse dynamics (:mod:`hdys.physics.contact`): the
ground forces under the planted feet explain the root's force and moment as far as they can, and what they
cannot is the root residual that the corpus validation bounds (:mod:`hdys.physics.validation`).
"""
from hdys.physics.bodies import RajagopalBody, SmplBody, rajagopal_body, smpl_body

__all__ = ["RajagopalBody", "SmplBody", "rajagopal_body", "smpl_body", "make_fixture"]


def make_fixture(preset: str = "tiny", seed: int = 0, progress: bool = False, domains=None):
    """Lazy re-export of :func:`hdys.physics.fixture.make_fixture`."""
    from hdys.physics.fixture import make_fixture as _make

    return _make(preset=preset, seed=seed, progress=progress, domains=tuple(domains) if domains else None)
