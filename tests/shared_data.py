"""The shared data beside the repository (../shared/data): tests read it in place and never copy it.

Absent data skips the test, except under CI=true, where it must be there and its absence fails the test.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def require_shared(path: Path) -> Path:
    """`path` (a file or folder under SHARED_DATA) when it exists; otherwise skip the test, or fail it under CI=true."""
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{path} is missing, and CI=true requires the shared data")
        pytest.skip(f"shared data not present: {path}")
    return path
