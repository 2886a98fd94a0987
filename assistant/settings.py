"""One settings object: defaults < ASSISTANT_* environment variables < explicit arguments (CLI flags)."""

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from assistant.errors import InvalidSetting

MB = 1024 * 1024
DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
DEFAULT_LLM = "llamacpp:SmolLM2-135M-Instruct"
DEFAULT_MODEL_CACHE = Path.home() / ".cache" / "assistant"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", extra="forbid", frozen=True)

    # Store
    data_dir: Path = Field(default=Path.home() / ".assistant",
                           description="Embedded Chroma store and uploads live here.")
    chroma_url: str | None = Field(default=None,
                                   description="http://HOST:PORT of a Chroma server instead of the embedded store.")
    collection: str = Field(default="documents", min_length=3, max_length=63)

    # Embedding and chunking
    embedding_model: str = Field(default=DEFAULT_EMBEDDING_MODEL,
                                 description="sentence-transformers name or local path.")
    # torch dynamic int8 / torch fp32 / ONNX Runtime fp32 (same vectors as torch fp32) / ONNX Runtime dynamic int8.
    embedding_backend: Literal["int8", "fp32", "onnx", "onnx-int8"] = "int8"
    # Questions and answer sentences: ONNX Runtime fp32 needs no torch (a cold answer in about a second); "documents"
    # uses the documents' backend. Mixing holds retrieval parity (README, Performance).
    query_backend: Literal["onnx", "onnx-int8", "documents"] = "onnx"
    model_cache_dir: Path = Field(default=DEFAULT_MODEL_CACHE, description="ONNX exports of the embedding model.")
    embed_batch_size: int = Field(default=32, ge=1)
    chunk_tokens: int = Field(default=160, ge=16, description="Chunk size in the embedding model's word pieces.")
    chunk_overlap_tokens: int = Field(default=32, ge=0)

    # Answering
    mode: Literal["extractive", "llm"] = "extractive"
    k: int = Field(default=5, ge=1, le=50)
    llm: str = Field(default=DEFAULT_LLM, description="provider:model for init_chat_model, or llamacpp:PATH.gguf.")
    llm_base_url: str | None = None
    llm_api_key: str | None = None
    llm_timeout: float = Field(default=60.0, gt=0)
    llm_max_tokens: int = Field(default=256, ge=16)
    # None: the thresholds calibrated on dev data by `assistant calibrate` (assistant/models/judge.json).
    refuse_threshold: float | None = Field(default=None, ge=0, le=1,
                                           description="Refuse when the judge's probability that the best sentence "
                                                       "answers stays below this.")
    support_threshold: float | None = Field(default=None, ge=0, le=1,
                                            description="A cited sentence whose support probability is below this is "
                                                        "flagged unsupported.")
    drop_unsupported: bool = False
    reader: bool = Field(default=True,
                         description="Let the learned reader (assistant/models/reader.onnx) check claims against their "
                                     "evidence, and answers where judge.json weighs it.")
    max_answer_sentences: int = Field(default=2, ge=1)

    # Uploads and limits
    max_file_mb: float = Field(default=50.0, gt=0)
    max_question_chars: int = Field(default=2000, ge=10)

    # Serving: the bearer key the OpenAI-compatible endpoint asks for (None: no key needed)
    api_key: str | None = Field(default=None, min_length=1,
                                description="Bearer key of `assistant serve`'s /v1 endpoint.")

    # Reliability
    max_upload_mb: float = Field(default=200.0, gt=0, description="All files of one upload, together.")
    store_timeout: float = Field(default=30.0, gt=0, description="Seconds one request to a Chroma server may take.")
    # Admission (assistant/admission.py), per process, the page and /v1 together: past both, a request is refused
    # at once as busy. 4 at once on 2 cores (more only thrashes); 16 in line keeps an admitted answer's wait within
    # about 5 answers' time (README, Settings).
    max_concurrent_answers: int = Field(default=4, ge=1, description="Answers computed at once per process.")
    max_queued_answers: int = Field(default=16, ge=0, description="Answers waiting for a slot; beyond: busy.")

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def upload_dir(self) -> Path:
        return self.data_dir / "uploads"

    def with_overrides(self, **overrides) -> "Settings":
        """A copy with the given non-None fields replaced (how CLI flags land on top of env vars)."""
        given = {key: value for key, value in overrides.items() if value is not None}
        return self.model_validate({**self.model_dump(), **given}) if given else self


def load_settings(base: Settings | None = None, **overrides) -> Settings:
    """`base` (default: defaults < ASSISTANT_* variables) with the non-None `overrides` on top; a bad value, given
    or from the environment, raises InvalidSetting naming the field."""
    try:
        return (base or Settings()).with_overrides(**overrides)
    except ValueError as exc:  # pydantic's ValidationError, or pydantic-settings' SettingsError (a bad variable)
        errors_of = getattr(exc, "errors", None)
        errors = errors_of() if callable(errors_of) else []
        if errors:
            field = ".".join(str(part) for part in errors[0].get("loc", ())) or "settings"
            raise InvalidSetting(f"{field}: {errors[0].get('msg')} (got {errors[0].get('input')!r})") from None
        raise InvalidSetting(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None


def is_loopback(host: str) -> bool:
    """Whether a listening address (or URL host) is this machine only: "localhost", 127.0.0.0/8 or ::1."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def display_host(host: str) -> str:
    """The host part of a URL to print for a listening address: every-interface addresses as 127.0.0.1, IPv6 in
    brackets."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    return f"[{shown}]" if ":" in shown and not shown.startswith("[") else shown
