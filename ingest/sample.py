"""The bundled sample corpus, ingested into an empty collection so a fresh set-up has something to ask."""

import sys
from pathlib import Path
from typing import Callable

from assistant.settings import Settings
from ingest.embedding import get_embedder
from ingest.pipeline import ingest_paths
from ingest.store import open_store

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "assistant" / "data"


def ensure_sample(settings: Settings, on_message: Callable[[str], None] = print) -> None:
    """Ingest SAMPLE_DIR when the collection is empty; `on_message` gets the ingest's lines."""
    if open_store(settings, get_embedder(settings).identity).count() > 0:
        return
    on_message(f"collection '{settings.collection}' is empty: ingesting the sample corpus from {SAMPLE_DIR}")
    report = ingest_paths([SAMPLE_DIR], settings, progress=sys.stderr.isatty(), on_message=on_message)
    on_message(report.summary())
