"""On-disk corpus of canonical sequences: sharded HDF5 plus a JSON manifest.

Layout of a corpus directory::

    manifest.json              datasets, one entry per sequence, train-split normalisation statistics
    <dataset>/shard-000.h5     one group per sequence (group name = sequence id, '/' escaped as %2F)
    <dataset>/shard-001.h5     ... a new shard starts once a shard holds about ``shard_frames`` frames

Each sequence group holds one chunked dataset per present array key (float32, ``contact`` as uint8,
chunks of up to 256 frames along time), its names arrays and ``keypoint_parents`` as datasets, the
scalars (fps, mass_kg, height_m, subject, split, dataset, sequence_id) as attributes, a ``terrain``
attribute (JSON) where ``extra["terrain"]`` gives the platforms the feet stood on (read back into
``extra``; the rest of ``extra`` is not stored), and ``_stats_json``, the sequence's feature statistics
(``features.sequence_stats``) so that the train statistics can be recomputed without re-reading arrays
when a subject changes split. Both the groups and the manifest record the ``features.FEATURE_VERSION``
their statistics were computed with; statistics of another version are recomputed from the arrays.

The manifest is the authority: shard files or groups it does not list are ignored (and shard files
are overwritten by a later write). It is replaced atomically when a :class:`CorpusWriter` closes
(at the end of ``write_corpus``) only, so an interrupted write leaves the previous corpus intact; running
``write_corpus`` again resumes it (sequence ids already present are skipped).

Splits are by subject, per dataset (see :class:`CorpusWriter`).
"""
from .common import (CORPUS_SCHEMA_VERSION, FORMAT, MANIFEST, CorpusError, Entry, atomic_write_json,
                     checksum)
from .corpus import Corpus, export_npz, merged_stats, open_corpora, sequences_from_npz
from .writer import CorpusWriter, write_corpus

__all__ = ["CORPUS_SCHEMA_VERSION", "FORMAT", "MANIFEST", "Corpus", "CorpusError", "CorpusWriter", "Entry",
           "atomic_write_json", "checksum", "export_npz", "merged_stats", "open_corpora", "sequences_from_npz",
           "write_corpus"]
