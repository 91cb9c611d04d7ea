"""The motion registries and the typed gaits their builders return."""
import numpy as np
import pytest

from hdys.physics.fixture import GRF_KINDS, GROUND_CONTACT
from hdys.physics.locomotion import PLANNERS
from hdys.physics.motions import ARM_BUILDERS, ARM_KINDS, RAJAGOPAL_BUILDERS, RAJAGOPAL_KINDS, rajagopal_motion
from hdys.physics.smpl_motions import SMPL_BUILDERS, SMPL_KINDS, smpl_motion
from hdys.physics.timing import Cyclic, Hop, Jump, Kick, Lunge, StepUp

GAIT = {"walk": Cyclic, "turn": Cyclic, "run": Cyclic, "jump": Hop, "jumping_jack": Hop, "cmj": Jump, "kick": Kick,
        "lunge": Lunge, "step_up": StepUp}  # the others: None (both feet planted)
RANGES = np.tile([-3.0, 3.0], (23, 1))


def test_the_kinds_are_the_registries_keys_in_order():
    assert RAJAGOPAL_KINDS == ("walk", "turn", "run", "squat", "sit_to_stand", "jump", "cmj", "jumping_jack", "kick",
                               "lunge", "step_up") == tuple(RAJAGOPAL_BUILDERS)
    assert ARM_KINDS == ("curl", "arm_raise") == tuple(ARM_BUILDERS)
    assert SMPL_KINDS == ("walk", "turn", "run", "squat", "free", "arm_raise", "curl", "jump", "cmj", "jumping_jack",
                          "kick", "lunge", "step_up") == tuple(SMPL_BUILDERS)
    assert set(GRF_KINDS) <= set(SMPL_KINDS) and set(GROUND_CONTACT) == set(RAJAGOPAL_KINDS + SMPL_KINDS) - {"free"}


@pytest.mark.parametrize("kind", RAJAGOPAL_KINDS + ARM_KINDS)
def test_rajagopal_builders_return_their_typed_gait(kind):
    gait = rajagopal_motion(kind, np.random.default_rng(0), RANGES, 0.95).gait
    assert type(gait) is GAIT.get(kind, type(None)) and type(gait) in PLANNERS


@pytest.mark.parametrize("kind", SMPL_KINDS)
def test_smpl_builders_return_their_typed_gait(kind):
    gait = smpl_motion(kind, np.random.default_rng(0), 0.95).gait
    assert type(gait) is GAIT.get(kind, type(None)) and type(gait) in PLANNERS


def test_an_unknown_kind_names_itself_and_the_known_ones():
    with pytest.raises(ValueError, match="'hop'.*'walk'.*'arm_raise'"):
        rajagopal_motion("hop", np.random.default_rng(0), RANGES, 0.95)
    with pytest.raises(ValueError, match="'sit_to_stand'.*'step_up'"):
        smpl_motion("sit_to_stand", np.random.default_rng(0), 0.95)
