"""The MCP face: tools search, ask and list_documents over `Assistant`, for MCP hosts (stdio or streamable HTTP)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from assistant.errors import AssistantError, one_line
from assistant.settings import Settings
from assistant.types import Citation, DocumentInfo, Passage

INSTRUCTIONS = ("Answers questions from the user's own documents. `ask` returns an answer whose every sentence cites "
                "a quoted passage, each checked against it (verified or not); `search` returns the passages alone; "
                "`list_documents` names the documents that `sources` can limit either to.")


class Found(BaseModel):
    """One retrieved passage: where it is and what it says."""

    file: str
    location: str  # "lines 4-6", "p. 2"...
    line_start: int
    line_end: int
    page: int | None
    text: str
    score: float

    @classmethod
    def of(cls, passage: Passage) -> "Found":
        place = passage.place(0, len(passage.text))
        return cls(file=passage.source, location=place.location, line_start=place.line_start,
                   line_end=place.line_end, page=place.page, text=passage.text, score=round(passage.score, 4))


class Reply(BaseModel):
    """An answer: its text with [n] markers, whether it refused, and the citations the markers number."""

    answer: str
    refused: bool
    citations: list[Citation]
    unsupported_sentences: list[str]


Sources = Annotated[list[str] | None, Field(description="Document paths (as list_documents gives them) to draw "
                                                        "from; none: every document.")]


def build_server(settings: Settings):
    """An MCPServer whose tools answer from `settings`' collection."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    from assistant.api import Assistant

    assistant = Assistant(settings)
    server = MCPServer("grounded-assistant", instructions=INSTRUCTIONS, log_level="WARNING")

    def resolved(sources: list[str] | None) -> list[str]:
        return [assistant.resolve(path) for path in sources or ()]

    @server.tool()
    def search(query: Annotated[str, Field(description="What to look for.")],
               k: Annotated[int, Field(ge=1, le=50, description="How many passages.")] = settings.k,
               sources: Sources = None) -> list[Found]:
        """Search the documents: the k best passages for the query, best first, each with its file, location
        (lines or page) and full text. No answer is written."""
        try:
            return [Found.of(p) for p in assistant.search(query, k, resolved(sources))]
        except AssistantError as exc:
            raise ToolError(one_line(exc)) from None

    @server.tool()
    def ask(question: Annotated[str, Field(description="A question about the documents.")],
            sources: Sources = None) -> Reply:
        """Answer a question from the documents. Returns the answer text with [n] markers, `refused` (true when
        the documents do not say: then there are no citations), and for each [n] a citation: file, location, the
        exact quoted passage, and `supported` (whether the check found the quote supports the sentence)."""
        try:
            answer = assistant.ask(question, sources=resolved(sources))
        except AssistantError as exc:
            raise ToolError(one_line(exc)) from None
        return Reply(answer=answer.text, refused=answer.refused, citations=answer.citations,
                     unsupported_sentences=answer.unsupported_sentences)

    @server.tool()
    def list_documents() -> list[DocumentInfo]:
        """The documents in the collection: path (what `sources` takes), title, format, pages, chunks, characters
        and when each was ingested."""
        try:
            return assistant.documents()
        except AssistantError as exc:
            raise ToolError(one_line(exc)) from None

    return server


def run(settings: Settings, http: bool = False, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve the tools on stdio (stdout is the protocol's: nothing else may print there), or streamable HTTP."""
    try:
        import mcp  # noqa: F401
    except ImportError:
        raise AssistantError("mcp: the MCP server needs the 'mcp' package: "
                             "pip install 'grounded-assistant[mcp]'") from None
    server = build_server(settings)
    if http:
        server.run("streamable-http", host=host, port=port)
    else:
        server.run("stdio")
