"""The OpenAI-compatible face: /v1/models and /v1/chat/completions over `Assistant`, for any OpenAI client or chat
front end. It only translates: a request becomes a question and its history, an Answer becomes a message."""

from __future__ import annotations

import hmac
import threading
import time
import uuid
from collections.abc import AsyncIterator
from typing import Literal

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from assistant.admission import Busy, admission
from assistant.errors import (
    AssistantError,
    InvalidQuestion,
    InvalidSetting,
    LLMError,
    StoreUnreachable,
    UnknownDocument,
    one_line,
)
from assistant.history import History, parse_history
from assistant.settings import Settings
from assistant.types import Answer, Citation, answer_of_reply

MODEL_PREFIX = "grounded-assistant/"


class APIError(Exception):
    """An error in OpenAI's shape; `headers` carries Retry-After for a busy answer (429/503)."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.kind, self.code, self.param, self.headers = status, kind, code, param, headers

    def response(self) -> JSONResponse:
        body = {"error": {"message": str(self), "type": self.kind, "param": self.param, "code": self.code}}
        return JSONResponse(body, status_code=self.status, headers=self.headers)


# The status an AssistantError earns: the caller's fault (400) or a part behind the assistant failing.
STATUS: list[tuple[type[AssistantError], int, str]] = [
    (InvalidQuestion, 400, "invalid_request_error"), (UnknownDocument, 400, "invalid_request_error"),
    (InvalidSetting, 400, "invalid_request_error"), (LLMError, 502, "api_error"), (StoreUnreachable, 503, "api_error"),
]


def api_error(exc: Exception) -> APIError:
    if isinstance(exc, Busy):  # OpenAI's clients wait Retry-After and try again
        return APIError(429, one_line(exc), "rate_limit_error", "server_busy",
                        headers={"Retry-After": str(exc.retry_after)})
    for kind, status, name in STATUS:
        if isinstance(exc, kind):
            return APIError(status, one_line(exc), name)
    return APIError(500, one_line(exc), "api_error")


class _OpenAIRoute(APIRoute):
    """Every failure of a /v1 route, FastAPI's own validation included, answered in OpenAI's error shape."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except APIError as exc:
                return exc.response()
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {}
                path = first.get("loc", ())[1:] if first.get("type") != "json_invalid" else ()  # a JSON offset
                where = ".".join(str(part) for part in path) or "body"
                return APIError(400, f"{where}: {first.get('msg', 'invalid request')}", param=where).response()
            except Exception as exc:  # the store or the chat model failing, or a bug (logged by one_line)
                return api_error(exc).response()

        return guarded


# -- the request ------------------------------------------------------------------------------------------------
class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")  # name, tool_calls...: nothing an extractive answer uses

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None

    @property
    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(part.text for part in self.content)
        return self.content or ""


class ChatRequest(BaseModel):
    """OpenAI's chat request; sampling fields are accepted and ignored (the answer is set by the documents)."""

    model_config = ConfigDict(extra="ignore")

    model: str
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)


def conversation(messages: list[Message]) -> tuple[str, History]:
    """The question (the last message, the user's) and the (question, answer) pairs before it; system prompts and
    tool messages are not questions about the documents and are left out."""
    turns = [m for m in messages if m.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user":
        raise APIError(400, "messages: the last message must be the user's question", param="messages")
    # A front end sends back the whole reply, sources and all; the history wants the answer.
    earlier = [{"role": m.role, "content": answer_of_reply(m.text) if m.role == "assistant" else m.text}
               for m in turns[:-1]]
    return turns[-1].text, parse_history(earlier)


# -- the reply --------------------------------------------------------------------------------------------------
class Grounding(BaseModel):
    """The extra field every reply carries for clients that read it: refusal and the citations, structured."""

    refused: bool
    citations: list[Citation]
    unsupported_sentences: list[str]

    @classmethod
    def of(cls, answer: Answer) -> "Grounding":
        return cls(refused=answer.refused, citations=answer.citations,
                   unsupported_sentences=answer.unsupported_sentences)


def completion(answer: Answer, model: str) -> dict:
    return {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
            "model": model, "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                                         "message": {"role": "assistant", "content": answer.reply_markdown()}}],
            "grounding": Grounding.of(answer).model_dump(mode="json")}


def chunks(answer: Answer, model: str) -> list[dict]:
    """The reply as stream chunks: the role, the content, then the finish with the grounding field."""
    base = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion.chunk", "created": int(time.time()),
            "model": model}
    deltas = [({"role": "assistant", "content": ""}, None), ({"content": answer.reply_markdown()}, None), ({}, "stop")]
    out = [{**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}
           for delta, finish in deltas]
    out[-1]["grounding"] = Grounding.of(answer).model_dump(mode="json")
    return out


async def sse(items: list[dict]) -> AsyncIterator[str]:
    import json

    for item in items:
        yield f"data: {json.dumps(item, ensure_ascii=False)}\n\n"
    yield "data: [DONE]\n\n"


# -- the routes -------------------------------------------------------------------------------------------------
class Assistants:
    """One Assistant per collection, made on first use and shared by every request for it."""

    def __init__(self, settings: Settings):
        from assistant.api import Assistant

        self.settings = settings
        self._made: dict[str, Assistant] = {settings.collection: Assistant(settings)}
        self._lock = threading.Lock()

    def default(self):
        return self._made[self.settings.collection]

    def models(self) -> list[str]:
        names = dict.fromkeys([self.settings.collection, *self.default().collections()])
        return [MODEL_PREFIX + name for name in names]

    def of(self, model: str):
        from assistant.api import Assistant

        name = model.removeprefix(MODEL_PREFIX)
        if not model.startswith(MODEL_PREFIX) or model not in self.models():
            raise APIError(404, f"model: {model!r} is not served here (GET /v1/models lists them)",
                           code="model_not_found", param="model")
        with self._lock:
            if name not in self._made:
                self._made[name] = Assistant(self.settings.with_overrides(collection=name))
            return self._made[name]


def bearer_check(key: str | None):
    """A dependency that lets a request through when no key is set, or when it sends `Authorization: Bearer KEY`."""

    def check(request: Request) -> None:
        if key is None:
            return
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), key.encode()):
            raise APIError(401, "missing or wrong API key: send Authorization: Bearer KEY (the server's --api-key)",
                           code="invalid_api_key")

    return check


def router(settings: Settings) -> APIRouter:
    """The /v1 routes, answering from `settings`' store (one model per collection)."""
    assistants = Assistants(settings)
    line = admission(settings)
    api = APIRouter(prefix="/v1", route_class=_OpenAIRoute, dependencies=[Depends(bearer_check(settings.api_key))])

    @api.get("/models")
    def models() -> dict:
        created = int(time.time())
        return {"object": "list", "data": [{"id": name, "object": "model", "created": created,
                                            "owned_by": "grounded-assistant"} for name in assistants.models()]}

    @api.post("/chat/completions")
    async def chat_completions(body: ChatRequest) -> Response:
        question, history = conversation(body.messages)
        assistant = assistants.of(body.model)
        async with line.aslot():  # a full line: Busy, answered 429 with Retry-After
            answer = await assistant.aask(question, history)
        # Streamed or not, the content is the verified answer: a draft's deltas could not be taken back.
        if body.stream:
            return StreamingResponse(sse(chunks(answer, body.model)), media_type="text/event-stream")
        return JSONResponse(completion(answer, body.model))

    return api


def serve_app(settings: Settings) -> FastAPI:
    """The endpoint as an app of its own (`assistant serve`)."""
    app = FastAPI(title="grounded-assistant", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(router(settings))
    return app
