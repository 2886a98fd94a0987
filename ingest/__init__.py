"""Files -> text -> sentence-aware chunks -> embeddings -> Chroma."""

from ingest.pipeline import IngestReport, Ingestor, ingest_paths

__all__ = ["IngestReport", "Ingestor", "ingest_paths"]
