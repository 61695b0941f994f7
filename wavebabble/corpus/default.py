"""The embedded default corpus: >= 30 minutes of 8 kHz stereo babble dialogue, built on first use.

:func:`default_corpus_dir` returns ``$WAVEBABBLE_CACHE/default_corpus-<key>/`` (cache default
``~/.cache/wavebabble``), building it the first time: the corpus is rendered into a temporary sibling folder
and renamed into place, so a killed build never leaves a half corpus behind (a complete corpus is one whose
``manifest.jsonl`` exists). ``<key>`` hashes the corpus spec, the turn-taking parameters and
``GENERATOR_VERSION``, so changing any of them builds a new corpus next to the old one.
It is what training uses when no ``--data_dir`` is given; the build goes through the same
:func:`wavebabble.corpus.build.build_corpus` as the CLI.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from wavebabble.corpus.build import CorpusSpec, build_corpus
from wavebabble.corpus.manifest import MANIFEST_NAME
from wavebabble.corpus.turn_model import TurnTakingParams
from wavebabble.errors import output_error

CACHE_ENV = "WAVEBABBLE_CACHE"
DEFAULT_CACHE = "~/.cache/wavebabble"
FOLDER_PREFIX = "default_corpus-"
KEY_CHARS = 12
# Bump when babble.py / turn_model.py change what a given spec renders (forces a rebuild).
GENERATOR_VERSION = 1
# 32 dialogues x 60 s = 32 minutes at 8 kHz (the issue asks for >= 30 minutes).
DEFAULT_SPEC = CorpusSpec(kind="babble", num_dialogues=32, seconds_each=60.0, sample_rate=8000, seed=20261121,
                          noise_db=-60.0)
DEFAULT_TURN_PARAMS = TurnTakingParams()


def cache_root() -> Path:
    """``$WAVEBABBLE_CACHE`` or ``~/.cache/wavebabble``."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE).expanduser()


def corpus_key(spec: CorpusSpec = DEFAULT_SPEC, turn_params: TurnTakingParams = DEFAULT_TURN_PARAMS) -> str:
    """Short hash of everything that determines the corpus content."""
    blob = json.dumps({"spec": spec.to_json(), "turn_taking": dataclasses.asdict(turn_params),
                       "generator_version": GENERATOR_VERSION}, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:KEY_CHARS]


def default_corpus_dir(*, cache_dir=None, progress: bool = True, spec: CorpusSpec = DEFAULT_SPEC,
                       turn_params: TurnTakingParams = DEFAULT_TURN_PARAMS) -> Path:
    """Folder of the default corpus (stereo WAVs + ``manifest.jsonl``), built once and reused.

    Args:
      cache_dir: parent folder (default :func:`cache_root`).
      progress: show build progress on stderr.
      spec, turn_params: override the corpus (tests); the folder name's key changes with them.
    """
    root = Path(cache_dir).expanduser() if cache_dir is not None else cache_root()
    final = root / f"{FOLDER_PREFIX}{corpus_key(spec, turn_params)}"
    if (final / MANIFEST_NAME).is_file():
        return final
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.building-", dir=root))
    except OSError as e:
        raise output_error(f"the default corpus (${CACHE_ENV})", root, e) from None
    start = time.monotonic()
    try:
        if progress:
            print(f"building the default corpus ({spec.num_dialogues} x {spec.seconds_each:g} s at "
                  f"{spec.sample_rate} Hz) into {final} (once)", file=sys.stderr, flush=True)
        build_corpus(tmp, spec, overwrite=True, progress=progress, turn_params=turn_params)
        if final.exists() and not (final / MANIFEST_NAME).is_file():
            shutil.rmtree(final, ignore_errors=True)  # leftover without a manifest: not a corpus
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / MANIFEST_NAME).is_file():  # not a concurrent build that won the race
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise output_error(f"the default corpus (${CACHE_ENV})", root, e) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if progress:
        print(f"default corpus ready in {time.monotonic() - start:.1f} s: {final}", file=sys.stderr, flush=True)
    return final
