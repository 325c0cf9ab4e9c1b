"""The registry of published weights: which Hub files (sha256, size) each preset's weights are.

``published_weights.json`` ships in the package. It is written by the publishing tool
(:mod:`bidense_keras.publish`) from the folders themselves, never by hand, and read here by the
preset table and the loader, which must not depend on the publishing tool.
"""

import json
from pathlib import Path

REGISTRY_PATH = Path(__file__).resolve().parent / "published_weights.json"


def read_registry(path=None):
    """``{preset: {"repo_id", "revision", "files": {name: {"sha256", "size"}}}}`` ({} if the file is absent)."""
    path = Path(path or REGISTRY_PATH)
    return json.loads(path.read_text()) if path.exists() else {}
