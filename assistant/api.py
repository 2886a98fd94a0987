"""The Python API: `Assistant().ask(question)` runs condense -> retrieve -> answer -> verify (an LCEL chain)."""

import contextvars
import hashlib
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import AsyncIterator, Iterator, TypedDict

from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda

import prompts
from assistant import condense
from assistant.answer import REFUSAL, Draft, ExtractiveAnswerer, parse_claims
from assistant.errors import AssistantError, InvalidQuestion, LLMError, UnknownDocument
from assistant.fitted import load_models
from assistant.history import History
from assistant.judge import AnswerJudge
from assistant.reader import Reader, get_reader
from assistant.retrieval import HybridRetriever, LexicalIndex, Sources, shared_terms, source_set
from assistant.settings import Settings
from assistant.types import UNPRINTABLE, Answer, DocumentInfo, Passage, strip_markers
from assistant.verify import Verifier
from ingest.embedding import get_embedder
from ingest.store import Store, open_store


class Question(TypedDict, total=False):
    """What the Runnable face takes besides a plain question: the question and the turns before it."""

    question: str
    history: History


def _unpack(question: "str | Question") -> tuple[str, History | None]:
    if isinstance(question, dict):
        return question.get("question"), question.get("history")
    return question, None


@dataclass(frozen=True)
class Turn:
    """What flows through the chain; each stage returns a copy with its part filled in."""

    question: str
    history: tuple[tuple[str, str], ...] = ()
    sources: frozenset[str] | None = None  # retrieval draws only from these documents; None: from all
    standalone: str = ""
    passages: tuple[Passage, ...] = ()
    draft: Draft | None = None
    answer: Answer | None = None
    timings: dict = field(default_factory=dict)
    # Where the answer stage sends its text as it is written (stream/astream); ask never looks.
    on_text: Callable[[str], None] | None = field(default=None, compare=False, repr=False)


_lexical_indexes: dict[tuple[str, str], LexicalIndex] = {}


def _lexical(store: Store, data_dir: Path) -> LexicalIndex:
    """One BM25 index per collection per process, shared by every Assistant on it, and saved under the local data
    directory per store location (a directory or a server URL) and collection, so other processes load it."""
    key = (store.where, store.name)
    if key not in _lexical_indexes:
        digest = hashlib.sha256(f"{store.where}\0{store.name}".encode()).hexdigest()[:12]
        folder = data_dir / "lexical" / f"{store.name}-{digest}"
        _lexical_indexes.setdefault(key, LexicalIndex(store, shared_terms(), folder))
    return _lexical_indexes[key]


class Assistant(Runnable[str | Question, Answer]):
    """Answers questions from the documents in one collection, every sentence cited and checked.

    Also a LangChain Runnable: invoke/batch/stream take a question or {"question", "history"} and give the Answer."""

    def __init__(self, settings: Settings | None = None, **overrides):
        self.settings = (settings or Settings()).with_overrides(**overrides)
        query = self.settings.query_backend
        self.embedder = get_embedder(self.settings, None if query == "documents" else query)
        self._retriever: HybridRetriever | None = None
        self._answerer: ExtractiveAnswerer | None = None
        self._verifier: Verifier | None = None
        self.chain = (RunnableLambda(self._condense, name="condense") | RunnableLambda(self._retrieve, name="retrieve")
                      | RunnableLambda(self._answer, name="answer") | RunnableLambda(self._verify, name="verify"))

    # -- shared, lazily built pieces ------------------------------------------------------------------------
    @property
    def retriever(self) -> HybridRetriever:
        if self._retriever is None:
            store = open_store(self.settings, get_embedder(self.settings).identity)  # the documents' identity
            lexical = _lexical(store, self.settings.data_dir)
            self._retriever = HybridRetriever(store=store, embedder=self.embedder, lexical=lexical, k=self.settings.k)
        return self._retriever

    @property
    def store(self) -> Store:
        return self.retriever.store

    def warm_up(self) -> "Assistant":
        """Load the model and build the lexical index now rather than on the first question."""
        self.retriever.lexical.refresh()
        self.embedder.query_vector("warm up")
        return self

    def idf(self, term: str) -> float:
        """The BM25 IDF of a term in this collection."""
        return self.retriever.lexical.idf(term)

    # -- the chain's stages ---------------------------------------------------------------------------------
    def _condense(self, turn: Turn) -> Turn:
        started = time.perf_counter()
        standalone = turn.question
        if turn.history:
            standalone = condense.rewrite(turn.question, list(turn.history))
            if self.settings.mode == "llm" and condense.is_follow_up(turn.question):
                standalone = self._llm_condense(turn) or standalone
        return replace(turn, standalone=standalone, timings={**turn.timings, "condense": time.perf_counter() - started})

    def _llm_condense(self, turn: Turn) -> str | None:
        from langchain_core.prompts import PromptTemplate

        from assistant.llm import chat_model

        prompt = PromptTemplate.from_template(prompts.load("condense"))
        try:
            reply = (prompt | chat_model(self.settings)).invoke(
                {"history": condense.format_history(list(turn.history)), "question": turn.question})
        except Exception:  # a failed rewrite falls back to the deterministic one rather than failing the turn
            return None
        line = str(reply.content).strip().splitlines()[0].strip() if str(reply.content).strip() else ""
        return line if 3 <= len(line) <= 4 * len(turn.question) + 200 else None

    def _retrieve(self, turn: Turn) -> Turn:
        started = time.perf_counter()
        if self.retriever.store.count() == 0:
            raise AssistantError(f"collection '{self.settings.collection}' has no documents: "
                                 "run `assistant ingest PATH` first")
        passages = self.retriever.passages(turn.standalone, self.settings.k, turn.sources)
        return replace(turn, passages=tuple(passages),
                       timings={**turn.timings, "retrieve": time.perf_counter() - started})

    def _reader(self) -> Reader | None:
        return get_reader() if self.settings.reader else None

    def answerer(self) -> ExtractiveAnswerer:
        """The extractive answerer (its judge ranks sentences and decides refusal), built once per Assistant."""
        if self._answerer is None:
            judge = AnswerJudge(self.embedder, shared_terms(), self.idf, load_models(), self.settings.refuse_threshold,
                                self._reader())
            self._answerer = ExtractiveAnswerer(judge, self.settings.max_answer_sentences)
        return self._answerer

    def verifier(self) -> Verifier:
        """The citation verifier, built once per Assistant."""
        if self._verifier is None:
            self._verifier = Verifier(self.embedder, shared_terms(), self.idf, self.settings.support_threshold,
                                      self.settings.drop_unsupported, reader=self._reader())
        return self._verifier

    def candidates(self, question: str, history: History | None = None) -> tuple[str, list[Passage], str]:
        """What the answer stage reads for a question: the question the judge reads (condensed for a follow-up),
        the retrieved passages, and the last answer a follow-up must not repeat."""
        turn = self._condense(self._turn(question, history, None))
        passages = self.retriever.passages(turn.standalone, self.settings.k)
        return condense.judged_question(turn.question, turn.standalone), passages, _last_answer(turn)

    def _answer(self, turn: Turn) -> Turn:
        started = time.perf_counter()
        # Both modes refuse without writing anything when no sentence is relevant enough: the documents are silent.
        draft = self.answerer().draft(condense.judged_question(turn.question, turn.standalone), list(turn.passages),
                                          _last_answer(turn))
        if draft.claims and self.settings.mode == "llm":
            pieces = []
            for delta in self._llm_stream(turn):
                pieces.append(delta)
                if turn.on_text:
                    turn.on_text(delta)
            draft = self._llm_draft(turn, "".join(pieces))
        return replace(turn, draft=draft, timings={**turn.timings, "answer": time.perf_counter() - started})

    def _llm_stream(self, turn: Turn) -> Iterator[str]:
        from langchain_core.prompts import ChatPromptTemplate

        from assistant.llm import chat_model, failure, stream_within

        prompt = ChatPromptTemplate.from_messages([("system", prompts.load("answer")), ("human", "{question}")])
        try:
            for chunk in stream_within(prompt | chat_model(self.settings), {"passages": fence(list(turn.passages)),
                                       "question": turn.standalone}, self.settings.llm_timeout, self.settings.llm):
                if chunk.content:
                    yield str(chunk.content)
        except AssistantError:
            raise
        except Exception as exc:  # timeouts, refused connections, bad responses
            raise LLMError(failure(self.settings, exc)) from exc

    def _llm_draft(self, turn: Turn, text: str) -> Draft:
        if REFUSAL.lower().rstrip(".") in text.lower():
            return Draft(())
        return Draft(parse_claims(text, len(turn.passages)))

    def _verify(self, turn: Turn) -> Turn:
        started = time.perf_counter()
        text, citations, unsupported, refused = self.verifier().verify(turn.draft, list(turn.passages))
        timings = {**turn.timings, "verify": time.perf_counter() - started}
        timings["total"] = sum(timings.values())
        answer = Answer(question=turn.question, standalone_question=turn.standalone, text=text, citations=citations,
                        refused=refused, passages=list(turn.passages), mode=self.settings.mode,
                        unsupported_sentences=unsupported, timings={k: round(v, 4) for k, v in timings.items()})
        return replace(turn, answer=answer, timings=timings)

    # -- public surface -------------------------------------------------------------------------------------
    def _turn(self, question: str, history: History | None, sources: Sources) -> Turn:
        if not isinstance(question, str):
            raise InvalidQuestion("question: expected text")
        question = UNPRINTABLE.sub(" ", question).strip()
        if not question:
            raise InvalidQuestion("question: empty; ask something about your documents")
        if len(question) > self.settings.max_question_chars:
            raise InvalidQuestion(f"question: {len(question)} characters, "
                                  f"over the {self.settings.max_question_chars} limit")
        history = tuple((UNPRINTABLE.sub(" ", str(u)), UNPRINTABLE.sub(" ", str(a))) for u, a in (history or []))
        return Turn(question=question, history=history, sources=source_set(sources))

    def ask(self, question: str, history: History | None = None, sources: Sources = None) -> Answer:
        """Answer from the documents; `sources` (one path or several) limit retrieval to those documents."""
        return self.chain.invoke(self._turn(question, history, sources)).answer

    def invoke(self, input: str | Question, config: RunnableConfig | None = None, **kwargs) -> Answer:
        """`ask` as a Runnable (LangChain's callbacks and tags in `config` reach the chain's stages)."""
        question, history = _unpack(input)
        return self.chain.invoke(self._turn(question, history, None), config).answer

    def transform(self, input: Iterator[str | Question], config: RunnableConfig | None = None,
                  **kwargs) -> Iterator[Answer]:
        """Inside a streamed chain: one chunk, the verified Answer (a draft's text deltas do not add up to it)."""
        final = None
        for item in input:
            final = item if final is None else final + item
        yield self.invoke(final, config)

    async def atransform(self, input: AsyncIterator[str | Question], config: RunnableConfig | None = None,
                         **kwargs) -> AsyncIterator[Answer]:
        final = None
        async for item in input:
            final = item if final is None else final + item
        yield await self.ainvoke(final, config)

    def search(self, query: str, k: int | None = None, sources: Sources = None) -> list[Passage]:
        """The best k passages for a query (no answer), ranked; `sources` limit them to those documents."""
        turn = self._turn(query, None, sources)
        return self.retriever.passages(turn.question, k or self.settings.k, turn.sources)

    async def aask(self, question: str, history: History | None = None, sources: Sources = None) -> Answer:
        return (await self.chain.ainvoke(self._turn(question, history, sources))).answer

    def stream(self, question: str | Question, history: History | None = None, sources: Sources = None,
               **kwargs) -> Iterator[str | Answer]:
        """Text deltas as they are written, then the final, verified Answer (whose text is authoritative)."""
        # The same chain as ask, run in a worker thread; the answer stage hands its deltas over through a queue.
        done = object()
        items: queue.SimpleQueue = queue.SimpleQueue()
        if isinstance(question, dict):
            question, history = _unpack(question)
        turn = replace(self._turn(question, history, sources), on_text=items.put)

        def run() -> None:
            try:
                items.put(self.chain.invoke(turn).answer)
            except BaseException as exc:  # handed to the caller, which raises it
                items.put(exc)
            items.put(done)

        threading.Thread(target=contextvars.copy_context().run, args=(run,), name="ask", daemon=True).start()
        while (item := items.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            if isinstance(item, Answer) and self.settings.mode != "llm":
                yield item.text  # an extractive answer is written all at once
            yield item

    async def astream(self, question: str, history: History | None = None,
                      sources: Sources = None) -> AsyncIterator[str | Answer]:
        import asyncio

        iterator = self.stream(question, history, sources)
        while True:
            item = await asyncio.to_thread(next, iterator, None)
            if item is None:
                return
            yield item

    # -- the collection -------------------------------------------------------------------------------------
    def collections(self) -> list[str]:
        """The collections in this store that this Assistant's settings can answer from (same embedding model)."""
        return self.store.collections()

    def documents(self) -> list[DocumentInfo]:
        """Every document in the collection, one record each, sorted by source path."""
        return self.store.documents()

    def resolve(self, path: str | Path) -> str:
        """The stored source a path names: as given, or as an absolute path; UnknownDocument otherwise."""
        for candidate in dict.fromkeys([str(path), str(Path(path).expanduser().resolve())]):
            if self.store.has(candidate):
                return candidate
        raise UnknownDocument(f"{path}: not a document in collection '{self.settings.collection}' "
                              "(`assistant docs` lists them)")

    def remove(self, source: str | Path) -> int:
        """Remove one document (all its chunks at once) from the collection, and the copy an upload made of it
        (a file in the upload folder; other files stay on disk); returns how many chunks it had."""
        from ingest.uploads import delete_upload

        stored = self.resolve(source)
        chunks = self.store.remove(stored)
        delete_upload(self.settings, stored)
        return chunks


def _last_answer(turn: Turn) -> str:
    """What the assistant just said, so a follow-up brings something new rather than repeating it; a standalone
    question may be answered with it again."""
    if not turn.history or not condense.is_follow_up(turn.question):
        return ""
    return strip_markers(turn.history[-1][1])


def fence(passages: list[Passage]) -> str:
    """Passages numbered and fenced as data, so their text cannot pass for instructions."""
    blocks = []
    for number, passage in enumerate(passages, 1):
        # Any spelling of an opening or closing tag: a document can neither end its passage nor forge another.
        text = re.sub(r"<(\s*/?\s*passage)", r"&lt;\1", passage.text, flags=re.I)
        name = passage.source.rsplit("/", 1)[-1]
        blocks.append(f'<passage number="{number}" source="{name}" lines="{passage.line_start}-{passage.line_end}">\n'
                      f"{text}\n</passage>")
    return "\n\n".join(blocks)
