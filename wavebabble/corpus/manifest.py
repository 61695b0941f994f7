"""Corpus manifest: ``manifest.jsonl`` in the corpus folder, one JSON object per dialogue.

Each line: ``{"path": relative path of the stereo WAV, "sample_rate": int, "duration": seconds,
"intervals": [[[start_s, end_s], ...], [[start_s, end_s], ...]]}`` (ground-truth speech of speaker A (left)
and B (right)); assembled corpora add ``"speakers": [name_A, name_B]``.
"""
from __future__ import annotations

import json
from pathlib import Path

from wavebabble.errors import DataError
from wavebabble.outdir import write_text_atomic

MANIFEST_NAME = "manifest.jsonl"
REQUIRED_KEYS = ("path", "sample_rate", "duration", "intervals")


def manifest_record(path: str, sample_rate: int, duration: float, intervals, **extra) -> dict:
    """One manifest line as a JSON-safe dict (intervals as nested lists of floats)."""
    record = {"path": str(path), "sample_rate": int(sample_rate), "duration": float(duration),
              "intervals": [[[float(s), float(e)] for s, e in ch] for ch in intervals]}
    record.update(extra)
    return record


def write_manifest(folder, records: list[dict]) -> Path:
    """Write ``folder/manifest.jsonl`` atomically (temp file + rename)."""
    return write_text_atomic(Path(folder) / MANIFEST_NAME,
                             "".join(json.dumps(record, sort_keys=True) + "\n" for record in records), "the manifest")


def read_manifest(folder) -> list[dict]:
    """Records of ``folder/manifest.jsonl`` (or of the manifest file itself). DataError when unusable."""
    path = Path(folder)
    if path.is_dir():
        path = path / MANIFEST_NAME
    if not path.is_file():
        raise DataError(f"manifest {path}: not found")
    records = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"manifest {path}: line {n}: not valid JSON ({err})") from None
        missing = [k for k in REQUIRED_KEYS if k not in record]
        if missing:
            raise DataError(f"manifest {path}: line {n}: missing keys {missing}")
        records.append(record)
    return records
