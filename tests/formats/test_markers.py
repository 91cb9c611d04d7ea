"""Marker vocabulary: each convention maps onto the canonical names; unknown names and collisions are
reported, never dropped; the c3d and trc readers apply it (or keep the names)."""
from __future__ import annotations

import numpy as np
import pytest

from hdys.formats import read_source
from hdys.formats.markers import CANONICAL_MARKERS, canonical_marker, map_marker_names

PLUG_IN_GAIT = ("LASI RASI LPSI RPSI LTHI RTHI LKNE RKNE LTIB RTIB LANK RANK LHEE RHEE LTOE RTOE C7 T10 CLAV "
                "STRN RBAK LSHO RSHO LUPA RUPA LELB RELB LFRM RFRM LWRA RWRA LWRB RWRB LFIN RFIN LFHD RFHD "
                "LBHD RBHD SACR").split()
OPENSIM = {  # OpenSim / AddBiomechanics spellings -> canonical
    "R.ASIS": "RASI", "L.ASIS": "LASI", "R.PSIS": "RPSI", "L_PSIS": "LPSI", "r_knee_lat": "RKNE",
    "R_Knee_Med": "RKNI", "L_Ankle_Lat": "LANK", "L_Ankle_Med": "LANI", "R.Heel": "RHEE", "R_Toe_Tip": "RTOE",
    "R_Toe_Lat": "RMT5", "R_Toe_Med": "RMT1", "L.Shoulder": "LSHO", "R_Acromion": "RSHO",
    "R_Elbow_Lat": "RELB", "R_Elbow_Med": "RELBIN", "L_Wrist_Radius": "LWRA", "L_Wrist_Ulna": "LWRB",
    "Sternum": "STRN", "Sacrum": "SACR", "knee_lat_l": "LKNE", "RightGreaterTrochanter": "RGTR",
}
IMDY_66 = {  # ImDy utils/marker_vids.py smpl_opensim_markerset names -> canonical
    **{n: n for n in "STRN T1 T8 T10 T12 C7 CLAV LANK RANK LANI RANI LASI RASI LPSI RPSI LSHO RSHO LTOE RTOE "
                     "RHEE LHEE LKNE RKNE LKNI RKNI RELB LELB RELBIN LELBIN RCLAV LCLAV RFHD LBHD LFHD RBHD "
                     "LMT1 LMT5 RMT1 RMT5".split()},
    "RIWR": "RWRA", "LIWR": "LWRA", "LOWR": "LWRB", "ROWR": "RWRB",
    **{f"Tracking_{v}": v for v in "L5 L4 L3 L2 L1 T11 T9 T7 T6 T5 T4 T3 T2".split()},
    **{f"{s}{f}": f"{s.upper()}{f.upper()}" for s in "rl" for f in ("thumb", "index", "middle", "ring", "pinky")},
}


def test_plug_in_gait_is_canonical():
    assert all(canonical_marker(n) == n for n in PLUG_IN_GAIT)
    assert set(PLUG_IN_GAIT) <= set(CANONICAL_MARKERS)


@pytest.mark.parametrize("convention", [OPENSIM, IMDY_66], ids=["opensim", "imdy"])
def test_conventions_map(convention):
    assert {n: canonical_marker(n) for n in convention} == convention
    assert set(convention.values()) <= set(CANONICAL_MARKERS)
    mapping = map_marker_names(list(convention))
    assert mapping.names == list(convention.values()) and not mapping.unmapped and not mapping.collisions


def test_imdy_has_66_distinct_markers():
    assert len(IMDY_66) == 66 and len(set(IMDY_66.values())) == 66


@pytest.mark.parametrize("name", ["LASI", "L_ASIS", "L.ASIS", "LeftASIS", "Sub01:LASI", "lasi", "L-ASIS",
                                  "Left ASIS", "ASIS_L", "Lt_Asis", "Sub01:L.ASIS"])
def test_spellings_prefix_case_separators(name):
    assert canonical_marker(name) == "LASI"


def test_unknown_names_are_kept_and_reported():
    m = map_marker_names(["Sub01:RASI", "R_Thigh_Upper", "HEAD_TOP", "LASI"])
    assert m.names == ["RASI", "R_Thigh_Upper", "HEAD_TOP", "LASI"]
    assert m.unmapped == ["R_Thigh_Upper", "HEAD_TOP"] and "R_Thigh_Upper" in m.report()


def test_two_names_for_one_landmark_are_reported_not_merged():
    m = map_marker_names(["L.ASIS", "LASI", "L_ASIS"])
    assert m.names == ["L.ASIS", "LASI", "L_ASIS"]  # the canonical spelling keeps the name
    assert m.collisions == {"LASI": ["L.ASIS", "L_ASIS"]} and "also map to 'LASI'" in m.report()
    m = map_marker_names(["L.ASIS", "L_ASIS"])
    assert m.names == ["LASI", "L_ASIS"] and m.collisions == {"LASI": ["L_ASIS"]}
    with pytest.raises(ValueError, match="more than once"):
        map_marker_names(["LASI", "LASI"])


def _c3d(path, labels):
    ezc3d = pytest.importorskip("ezc3d")
    c = ezc3d.c3d()
    c["parameters"]["POINT"]["RATE"]["value"] = [100.0]
    c["parameters"]["POINT"]["LABELS"]["value"] = tuple(labels)
    pts = np.ones((4, len(labels), 5))
    pts[:3] = 100.0 * np.arange(1, len(labels) + 1)[None, :, None]
    c["data"]["points"] = pts
    c.add_parameter("POINT", "UNITS", ["mm"])
    c.write(str(path))


def test_c3d_reader_maps_or_keeps(tmp_path):
    _c3d(tmp_path / "a.c3d", ["Sub01:LASI", "Sub01:R.ASIS", "Sub01:WAND"])
    report = []
    (seq,) = read_source("c3d", tmp_path, report=report)
    assert seq.marker_names == ["LASI", "RASI", "Sub01:WAND"]
    np.testing.assert_allclose(seq.markers[0, 1], [0.2, 0.2, 0.2])  # the values follow their names
    assert report[0]["status"] == "ok" and "Sub01:WAND" in report[0]["reason"]
    (seq,) = read_source("c3d", tmp_path, marker_names="keep")
    assert seq.marker_names == ["Sub01:LASI", "Sub01:R.ASIS", "Sub01:WAND"]


def test_trc_reader_maps(tmp_path):
    from test_opensim import write_trc
    xyz = np.ones((6, 3, 3)) * np.array([100.0, 400.0, 900.0])[None, :, None]  # mm, spread over a body
    write_trc(tmp_path / "walk.trc", ["R.ASIS", "L.ASIS", "r_knee_lat"], xyz)
    (seq,) = read_source("opensim", tmp_path)
    assert seq.marker_names == ["RASI", "LASI", "RKNE"]
