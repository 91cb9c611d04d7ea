"""One marker vocabulary for all labs: names of common conventions mapped onto canonical names.

Labs name the same landmark differently (``LASI``, ``L_ASIS``, ``L.ASIS``, ``LeftASIS``, ``Sub01:LASI``).
The model treats markers as a set and does not need names, but names are how a marker's meaning
travels between datasets (a heading from the ASIS pair, the heel and toe of a foot for force-plate
assignment, comparing marker sets), so the readers of lab formats (``c3d``, ``opensim`` ``.trc``) map
them here (option ``marker_names="canonical"``, the default; ``"keep"`` leaves the file's names).

Canonical names are Vicon Plug-in Gait's (Vicon, "Plug-in Gait Reference Guide": ``LASI RASI LPSI
RPSI LTHI LKNE LTIB LANK LHEE LTOE C7 T10 CLAV STRN RBAK LSHO LUPA LELB LFRM LWRA LWRB LFIN LFHD
RFHD LBHD RBHD``, ``SACR``), which the ``hdys synth`` bodies and ImDy's markers also use, extended with
the MoSh/AMASS names (Mahmood et al., ICCV 2019) for landmarks Plug-in Gait lacks: medial knee
``LKNI``, medial malleolus ``LANI``, medial elbow ``LELBIN``, metatarsal heads ``LMT1 LMT5``, the
clavicles ``LCLAV``, vertebrae ``T1``..``T12``, ``L1``..``L5``, fingertips ``LTHUMB LINDEX LMIDDLE LRING
LPINKY``, greater trochanter ``LGTR``. (L/R = the subject's left/right.)

Conventions mapped (``canonical_marker``):

* Plug-in Gait and MoSh names as they are, in any case (``lasi``).
* OpenSim / AddBiomechanics style ``R.ASIS``, ``R_ASIS``, ``r_knee_lat``, ``R_Knee_Med``,
  ``R_Ankle_Lat``, ``R_Heel``, ``R_Toe_Tip``, ``R_Toe_Lat`` (5th metatarsal head) ``R_Toe_Med`` (1st),
  ``R_Shoulder``/``R_Acromion``, ``R_Elbow_Lat``/``_Med``, ``R_Wrist_Radius``/``_Ulna``, ``Sternum``,
  ``Sacrum``; the side as a first or last token (``L``, ``Left``, ``Lt``; ``R`` ...).
* ImDy's 66 SMPL-surface markers (``utils/marker_vids.py::smpl_opensim_markerset``): Plug-in Gait and
  MoSh names (``LIWR`` -> ``LWRA``, ``LOWR`` -> ``LWRB``), ``Tracking_T9`` -> ``T9``, ``lthumb`` ->
  ``LTHUMB``.
* Separators ``. _ - space`` and camel case are ignored, a subject prefix up to ``:`` (Vicon) is dropped.

Technical (cluster) markers such as ``R_Thigh_Upper`` have no anatomical counterpart: they are not
mapped, they are kept under their own names and reported, like every name this module does not know.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

# paired landmark code -> spellings of it (upper case, separators removed), side removed
_PAIRED: dict[str, tuple[str, ...]] = {
    "ASI": ("ASI", "ASIS"), "PSI": ("PSI", "PSIS"),
    "GTR": ("GTR", "GTRO", "TROCH", "TROCHANTER", "GREATERTROCHANTER"),
    "THI": ("THI", "THIGH", "THIGHLAT", "THIGHLATERAL"),
    "KNE": ("KNE", "KNEE", "KNEELAT", "KNEELATERAL", "LFC", "LATFEMCON", "FEMCONLAT"),
    "KNI": ("KNI", "KNEEMED", "KNEEMEDIAL", "KNEEIN", "KNEIN", "MKN", "MFC", "MEDFEMCON", "FEMCONMED"),
    "TIB": ("TIB", "TIBIA", "SHANK", "SHANKLAT", "SHANKLATERAL"),
    "ANK": ("ANK", "ANKLE", "ANKLELAT", "ANKLELATERAL", "LATMALLEOLUS", "MALLEOLUSLAT", "LMAL"),
    "ANI": ("ANI", "ANKLEMED", "ANKLEMEDIAL", "MEDMALLEOLUS", "MALLEOLUSMED", "MMAL",
            "MED"),  # MED: the medial malleolus of the hdys synth bodies
    "HEE": ("HEE", "HEEL", "HEL", "CALC"),
    "TOE": ("TOE", "TOETIP", "TOES"),
    "MT1": ("MT1", "1MT", "MTH1", "MET1", "TOEMED", "TOEMEDIAL"),
    "MT5": ("MT5", "5MT", "MTH5", "MET5", "5META", "TOELAT", "TOELATERAL"),
    "SHO": ("SHO", "SHOULDER", "ACR", "ACROMION"),
    "UPA": ("UPA", "UPPERARM"),
    "ELB": ("ELB", "ELBOW", "ELBOWLAT", "ELBOWLATERAL", "LATEPICONDYLE"),
    "ELBIN": ("ELBIN", "ELBOWMED", "ELBOWMEDIAL", "MEDEPICONDYLE"),
    "FRM": ("FRM", "FOREARM"),
    "WRA": ("WRA", "IWR", "WRISTRADIUS", "WRISTRAD", "RADIUS", "RADIALSTYLOID"),
    "WRB": ("WRB", "OWR", "WRISTULNA", "ULNA", "ULNARSTYLOID"),
    "FIN": ("FIN",),
    "FHD": ("FHD", "FRONTHEAD", "HEADFRONT"),
    "BHD": ("BHD", "BACKHEAD", "HEADBACK"),
    "CLAV": ("CLAV", "CLAVICLE"),
    "BAK": ("BAK", "BACK", "SCAPULA"),
    "THUMB": ("THUMB",), "INDEX": ("INDEX",), "MIDDLE": ("MIDDLE",), "RING": ("RING",), "PINKY": ("PINKY",),
}
# midline landmark -> spellings
_MIDLINE: dict[str, tuple[str, ...]] = {
    "C7": ("C7",), "CLAV": ("CLAV", "JNOTCH", "JUGULARNOTCH", "SUPRASTERNALE", "INCISURAJUGULARIS"),
    "STRN": ("STRN", "STERNUM", "XIPHOID", "XIPH", "XYPH", "SUBSTERNALE"),
    "SACR": ("SACR", "SACRUM", "SACRAL"),
    **{f"T{i}": (f"T{i}",) for i in range(1, 13)}, **{f"L{i}": (f"L{i}",) for i in range(1, 6)},
}
_SIDES = {"L": "L", "LEFT": "L", "LT": "L", "R": "R", "RIGHT": "R", "RT": "R"}
_IGNORED_TOKENS = {"TRACKING"}  # ImDy's spine points: Tracking_T9 is T9
_TOKEN = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")

PAIRED_CODES = {s: code for code, spellings in _PAIRED.items() for s in spellings}
MIDLINE_CODES = {s: code for code, spellings in _MIDLINE.items() for s in spellings}
CANONICAL_MARKERS: tuple[str, ...] = tuple(
    [f"{side}{code}" for code in _PAIRED for side in "LR"] + list(_MIDLINE))


def canonical_marker(name: str) -> str | None:
    """The canonical name of a marker label (see the module docstring), or None if it is not known."""
    base = str(name).rsplit(":", 1)[-1].strip()
    tokens = [t.upper() for t in _TOKEN.findall(base)]
    tokens = [t for t in tokens if t not in _IGNORED_TOKENS]
    if not tokens:
        return None
    key = "".join(tokens)
    if key in MIDLINE_CODES:
        return MIDLINE_CODES[key]
    if len(tokens) > 1 and (tokens[0] in _SIDES or tokens[-1] in _SIDES):
        side, rest = (_SIDES[tokens[0]], tokens[1:]) if tokens[0] in _SIDES else (_SIDES[tokens[-1]], tokens[:-1])
        code = PAIRED_CODES.get("".join(rest))
        return side + code if code else None
    for prefix in ("LEFT", "RIGHT", "L", "R"):  # one run: LASI, RIWR, lthumb, LEFTASIS
        if key.startswith(prefix) and key[len(prefix):] in PAIRED_CODES:
            return _SIDES[prefix] + PAIRED_CODES[key[len(prefix):]]
    return None


@dataclass(frozen=True)
class MarkerMapping:
    """``names``: one output name per input name, unique; ``unmapped``: input names without a canonical
    counterpart (kept as they are); ``collisions``: canonical name -> further inputs that mapped to it
    (the first input, or one already spelled canonically, gets the name; these keep their own)."""

    names: list[str]
    unmapped: list[str] = field(default_factory=list)
    collisions: dict[str, list[str]] = field(default_factory=dict)

    def report(self) -> str:
        """A sentence for the per-file report ("" when every name was mapped once)."""
        parts = []
        if self.unmapped:
            parts.append(f"marker names not in the canonical vocabulary, kept as they are: {self.unmapped}")
        for canon, others in self.collisions.items():
            parts.append(f"markers {others} also map to {canon!r}; kept under their own names")
        return "; ".join(parts)


def map_marker_names(names: list[str]) -> MarkerMapping:
    """Canonical names for ``names`` (see ``MarkerMapping``). Raises ``ValueError`` if the result would
    repeat a name (e.g. the input itself repeats one)."""
    canon = [canonical_marker(n) for n in names]
    out: list[str | None] = [None] * len(names)
    taken: dict[str, int] = {}
    # inputs already spelled canonically first, so that 'LASI' keeps its name next to 'L.ASIS'
    order = sorted(range(len(names)), key=lambda i: (canon[i] is None or names[i] != canon[i], i))
    collisions: dict[str, list[str]] = {}
    for i in order:
        c = canon[i]
        if c is None:
            continue
        if c in taken:
            collisions.setdefault(c, []).append(names[i])
            out[i] = names[i]
        else:
            taken[c] = i
            out[i] = c
    unmapped = [n for n, c in zip(names, canon) if c is None]
    result = [o if o is not None else n for o, n in zip(out, names)]
    repeated = sorted({n for n in result if result.count(n) > 1})
    if repeated:
        raise ValueError(f"marker names {repeated} occur more than once after mapping {list(names)}")
    return MarkerMapping(names=result, unmapped=unmapped, collisions=collisions)


def apply_option(names: list[str], option: str | None) -> tuple[list[str], str]:
    """The reader option ``marker_names`` ("canonical", the default, or "keep") applied to ``names``:
    (names to store, a reason for the report or "")."""
    option = option or "canonical"
    if option == "keep":
        return list(names), ""
    if option != "canonical":
        raise ValueError(f"marker_names must be 'canonical' or 'keep', got {option!r}")
    mapping = map_marker_names(names)
    return mapping.names, mapping.report()
