"""The app's signing key, without the rest of kpi.admin.auth (the supervisor of `kpi serve` derives
Streamlit's cookie secret from it and imports nothing heavier; auth re-exports it)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from kpi.store.paths import ROOT


def secret_key(path: Path | None = None) -> bytes:
    """$KPI_SECRET, else data/.kpi_secret (created once, readable by its owner only)."""
    env = os.environ.get("KPI_SECRET")
    if env:
        return env.encode("utf-8")
    path = path or (ROOT / "data" / ".kpi_secret")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(32))
    return path.read_bytes()
