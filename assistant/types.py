"""The typed objects at the seams: what retrieval returns and what every front end receives."""

from pydantic import BaseModel, ConfigDict


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)

    def to_dict(self) -> dict:
        return self.model_dump(mode="json")


class Passage(_Frozen):
    """A retrieved span of one document (one chunk, or overlapping chunks merged)."""

    source: str
    title: str
    text: str
    start: int  # char offsets into the document's extracted text
    end: int
    line_start: int  # 1-based, inclusive
    line_end: int
    page: int | None = None
    score: float = 0.0
    chunk_ids: tuple[str, ...] = ()

    def locate(self, offset: int) -> int:
        """The 1-based document line of a char offset inside this passage's text."""
        return self.line_start + self.text.count("\n", 0, offset)


class Citation(_Frozen):
    """One numbered reference: the exact quoted span and whether it supports the sentence citing it."""

    number: int
    source: str
    title: str
    page: int | None
    start: int
    end: int
    line_start: int
    line_end: int
    quote: str
    score: float
    supported: bool


class Answer(_Frozen):
    question: str
    standalone_question: str
    text: str
    citations: list[Citation]
    refused: bool
    passages: list[Passage]
    mode: str
    unsupported_sentences: list[str] = []
    timings: dict[str, float] = {}

    def sources_text(self) -> str:
        """The numbered sources as `path:line-line` lines with their quotes, for terminals and logs."""
        lines = []
        for c in self.citations:
            where = f"{c.source}:{c.line_start}-{c.line_end}" + (f" (page {c.page})" if c.page else "")
            mark = "" if c.supported else "  [unverified]"
            lines.append(f"[{c.number}] {where}{mark}\n    \"{c.quote}\"")
        return "\n".join(lines)
