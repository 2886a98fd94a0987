"""The one layout of a stored chunk: its Chroma metadata (written by ingest, read by retrieval and the library), the
packed sentence vectors inside it, and the typed record the store returns."""

import base64
from dataclasses import asdict, dataclass, fields

import numpy as np

# How sentence vectors are stored, recorded in the collection's metadata as the embedding backend is: the mean of
# the chunk's token embeddings over each sentence (one forward pass), int8 with one float16 scale per sentence.
# v2: sentence spans keep a table row whole (chunks of v1 with a row cut in two have more vectors than spans, and
# answering embeds their sentences when asked).
# v3: a sentence's vector pools its heading's tokens too, and a chunk is embedded under its heading path.
SENTENCE_VECTORS_FORMAT = "mean-pooled-int8-v3"
_TAG = "i8"


@dataclass(frozen=True)
class ChunkMeta:
    """A chunk's Chroma metadata: everything but its text and vector. Optional fields are absent from chunks
    stored by earlier versions (before marks, before sentence vectors) and are then None."""

    source: str
    start: int  # char offsets into the document's indexed (reflowed) text
    end: int
    line_start: int
    line_end: int
    index: int = 0
    title: str = ""
    doc_hash: str = ""
    n_chunks: int | None = None
    page: int | None = None
    marks: str | None = None  # assistant.types.Marks as JSON
    sentence_vectors: str | None = None  # pack_vectors() of the chunk's sentences, in sentence_spans order
    # About the whole document, repeated on each chunk (Store.documents reads the first chunk's).
    format: str | None = None
    characters: int | None = None
    ingested_at: str | None = None
    pages: int | None = None
    # The write a document took several of: hidden from readers while the collection lists it as pending.
    commit: str | None = None

    def to_chroma(self) -> dict:
        """Chroma refuses None values: absent fields are left out."""
        return {key: value for key, value in asdict(self).items() if value is not None}

    @classmethod
    def from_chroma(cls, meta: dict) -> "ChunkMeta":
        return cls(**{key: meta[key] for key in _FIELDS if key in meta})


_FIELDS = tuple(f.name for f in fields(ChunkMeta))


@dataclass(frozen=True)
class StoredChunk:
    """One chunk as the store returns it; `distance` (cosine) only from a vector query."""

    id: str
    text: str
    meta: ChunkMeta
    distance: float | None = None


def pack_vectors(vectors: np.ndarray) -> str:
    """Unit vectors as text for a metadata field: int8 per value plus a float16 scale per row (cosine error ~1e-3)."""
    scales = np.abs(vectors).max(axis=1) / 127.0
    scales[scales == 0] = 1.0
    quantized = np.round(vectors / scales[:, None]).astype(np.int8)
    payload = quantized.tobytes() + scales.astype(np.float16).tobytes()
    return f"{_TAG}:{len(vectors)}:{base64.b64encode(payload).decode('ascii')}"


def unpack_vectors(packed: str) -> np.ndarray | None:
    """The unit vectors of `pack_vectors`; None for a format this version does not read."""
    tag, _, rest = packed.partition(":")
    count, _, body = rest.partition(":")
    if tag != _TAG or not count.isdigit() or int(count) == 0:
        return None
    raw = base64.b64decode(body)
    n = int(count)
    width = len(raw) // n - 2
    quantized = np.frombuffer(raw, np.int8, n * width).reshape(n, width).astype(np.float32)
    scales = np.frombuffer(raw, np.float16, n, offset=n * width).astype(np.float32)
    vectors = quantized * scales[:, None]
    return vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
