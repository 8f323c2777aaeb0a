"""An Ensemble on disk: a folder of one `.npz` per member (fastprop.io's format, read by
its safe loader) and `ensemble.json`, the manifest, written last and read first."""
from __future__ import annotations

import json
import os
import secrets

from . import io

MANIFEST = "ensemble.json"
FORMAT = "fastprop-ensemble"
VERSION = 1
MAX_MANIFEST_BYTES = 1 << 20
MAX_MEMBERS = 1 << 20


def member_file(k):
    return f"member-{k:05d}.npz"


def save_ensemble(ensemble, path):
    """ensemble's members into the folder `path`, then its manifest (atomically)."""
    path = os.fspath(path)
    os.makedirs(path, exist_ok=True)
    for k, member in enumerate(ensemble.members):
        member.save(os.path.join(path, member_file(k)))
    manifest = {"format": FORMAT, "version": VERSION, "n_members": ensemble.n_members,
                "members": [member_file(k) for k in range(ensemble.n_members)]}
    tmp = os.path.join(path, f".fastprop-{secrets.token_hex(6)}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(manifest, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, os.path.join(path, MANIFEST))


def load_ensemble(path):
    """The Ensemble in the folder `path`; ValueError naming the file for anything
    inconsistent (nothing is built until every member has loaded)."""
    from .ensemble import Ensemble

    path = os.fspath(path)
    manifest_path = os.path.join(path, MANIFEST)
    if not os.path.isfile(manifest_path):
        raise ValueError(f"{path!r} is a folder without {MANIFEST}: not a fastprop "
                         f"ensemble")
    with open(manifest_path, "rb") as f:
        raw = f.read(MAX_MANIFEST_BYTES + 1)
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ValueError(f"{manifest_path!r} is larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise ValueError(f"{manifest_path!r} is not a fastprop ensemble manifest: "
                         f"{err}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError(f"{manifest_path!r} is not a fastprop ensemble manifest")
    if manifest.get("version") != VERSION:
        raise ValueError(f"{manifest_path!r} has format version "
                         f"{manifest.get('version')!r}; this fastprop reads {VERSION}")
    names = manifest.get("members")
    K = manifest.get("n_members")
    if not isinstance(K, int) or isinstance(K, bool) or not 1 <= K <= MAX_MEMBERS \
            or names != [member_file(k) for k in range(K)]:
        raise ValueError(f"{manifest_path!r} lists its members inconsistently")
    members = [io.load(os.path.join(path, name)) for name in names]
    try:
        return Ensemble.from_members(members)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path!r}: {err}") from None
