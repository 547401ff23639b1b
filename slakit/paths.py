"""Where slakit keeps things: a cache shared across clones, and per-stack state."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Large, slow-to-fetch things (Elasticsearch zip, tiny model), keyed by version inside.

    `SLAKIT_CACHE_DIR`, else `$XDG_CACHE_HOME/slakit`, else `~/.cache/slakit`.
    """
    if explicit := os.environ.get("SLAKIT_CACHE_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "slakit"
