"""Files -> text -> sentence-aware chunks -> embeddings -> Chroma."""

from ingest.pipeline import Ingestor, IngestReport, ingest_paths

__all__ = ["IngestReport", "Ingestor", "ingest_paths"]
