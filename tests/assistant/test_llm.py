"""LLM mode against a real OpenAI-compatible server on 127.0.0.1 (llama-cpp-python's server with the SmolLM2 GGUF).

The tests that talk to a model are marked slow; the citation parser, the verifier and the passage fence are checked
here too, without a server (the verifier uses the real embedding model). SmolLM2-135M is weak and slow on shared
cores, so the server tests make four model calls in all, with short prompts (k <= 2) and short answers.
"""

import os
import re
import signal
import time

import psutil
import pytest

from assistant import Answer, Assistant
from assistant import llm as llm_module
from assistant.answer import REFUSAL, parse_claims
from assistant.errors import LLMError
from assistant.llm import gguf_path, start_llama_server
from assistant.processes import free_port
from ingest.loaders import load_document
from tests.helpers import INJECTED_TEXT, MARKERS, llm_settings, sentences, unmarked

SMOLLM2 = "SmolLM2-135M-Instruct"
STREAM_Q = "What is Europe's largest nuclear facility?"
BRIDGE_Q = "When did the Harbor Bridge open?"
UNANSWERABLE_Q = "What is the population of Kyiv?"
_NUMBER = re.compile(r"\d[\d,.]*\d|\d")
slow = pytest.mark.slow


def squash(text: str) -> str:
    return " ".join(unmarked(text).split())


def small_llm(settings, base_url: str, **extra):
    """Short prompts and short answers: SmolLM2 is slow on shared cores."""
    return llm_settings(settings, base_url, **{"k": 2, "llm_max_tokens": 96, "llm_timeout": 120, **extra})


@pytest.fixture(scope="session")
def llama_server():
    """llama-cpp-python's OpenAI-compatible server with SmolLM2 on a free 127.0.0.1 port, for the whole session."""
    server = start_llama_server(gguf_path(SMOLLM2), free_port(), timeout=120)
    yield server.url
    server.stop()


def test_llm_mode_refuses_without_calling_the_llm_when_the_documents_are_silent(sample_settings):
    """Nothing listens on this port: a refusal proves the extractive gate answered before any model call."""
    bot = Assistant(small_llm(sample_settings, f"http://127.0.0.1:{free_port()}/v1", llm_timeout=5))
    answer = bot.ask(UNANSWERABLE_Q)
    assert answer.refused and answer.text == REFUSAL and answer.mode == "llm" and answer.citations == []
    events = list(bot.stream(UNANSWERABLE_Q))
    assert len(events) == 1 and isinstance(events[0], Answer) and events[0].refused
    # The same assistant does need the model for a question the documents answer, and says which one failed.
    with pytest.raises(LLMError, match=r"^llm: openai:smollm2 failed"):
        bot.ask(STREAM_Q)


# -- a real model on a real server (slow) -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def streamed(sample_settings, llama_server):
    """One streamed LLM answer on the bundled corpus: (deltas, their arrival times, the Answer)."""
    bot = Assistant(small_llm(sample_settings, llama_server))
    deltas, times, final = [], [], None
    for event in bot.stream(STREAM_Q):
        assert final is None, "nothing comes after the Answer"
        if isinstance(event, Answer):
            final = event
        else:
            deltas.append(event)
            times.append(time.monotonic())
    return deltas, times, final


@slow
def test_stream_yields_several_deltas_then_the_final_answer(streamed):
    deltas, times, answer = streamed
    assert isinstance(answer, Answer) and answer.mode == "llm"
    assert len(deltas) >= 3 and all(isinstance(d, str) and d for d in deltas)
    assert times[-1] - times[0] > 0.01, "deltas arrive as they are written, not all at once"
    assert answer.question == STREAM_Q and answer.passages and len(answer.passages) <= 2


@slow
def test_llm_answer_is_verified_sentence_by_sentence(streamed):
    deltas, _, answer = streamed
    raw = "".join(deltas)
    claims = parse_claims(raw, len(answer.passages))
    assert claims, f"the model wrote no sentence: {raw!r}"
    kept = [unmarked(s) for s in sentences(answer.text)] if not answer.refused else []
    unsupported = set(answer.unsupported_sentences)
    # Every sentence the model wrote is in the answer (flagged or not), or the answer refuses and flags them all.
    assert set(kept) | unsupported == {c.text for c in claims}, (raw, answer)
    assert unsupported <= {c.text for c in claims}
    assert all(squash(s) in squash(raw) for s in kept + list(unsupported))
    if answer.refused:
        assert answer.text == REFUSAL and answer.citations == [] and unsupported == {c.text for c in claims}
        return
    by_number = {c.number: c for c in answer.citations}
    assert sorted(by_number) == list(range(1, len(by_number) + 1))
    for sentence in sentences(answer.text):
        numbers = [int(n) for n in MARKERS.findall(sentence)]
        assert numbers or unmarked(sentence) in unsupported, f"uncited and unflagged: {sentence!r}"
        cited = [by_number[n] for n in numbers]
        if unmarked(sentence) not in unsupported:
            assert any(c.supported for c in cited), sentence
        # A number none of the cited passages states is never verified.
        texts = " ".join(p.text for p in answer.passages if any(p.source == c.source and p.start <= c.start
                                                                and c.end <= p.end for c in cited))
        if any(n not in texts for n in _NUMBER.findall(unmarked(sentence))):
            assert unmarked(sentence) in unsupported, sentence
    for c in answer.citations:
        assert isinstance(c.supported, bool) and load_document(c.source).text[c.start:c.end] == c.quote


def model_calls(runs) -> list[str]:
    """Chat-model runs among LangChain's traced runs, at any depth."""
    return [name for run in runs for name in ([run.name] if run.run_type == "llm" else [])
            + model_calls(run.child_runs)]


@slow
def test_refusal_with_the_real_server_comes_before_any_model_call(injected_settings, llama_server):
    from langchain_core.tracers.context import collect_runs

    bot = Assistant(small_llm(injected_settings, llama_server, k=1, llm_max_tokens=16))
    with collect_runs() as refused_runs:
        answer = bot.ask(UNANSWERABLE_Q)
    assert answer.refused and answer.text == REFUSAL and answer.unsupported_sentences == []
    assert model_calls(refused_runs.traced_runs) == []
    with collect_runs() as answered_runs:  # the count does see the model: a question the document answers calls it
        bot.ask(BRIDGE_Q)
    assert model_calls(answered_runs.traced_runs) == ["ChatOpenAI"]


@slow
def test_planted_instructions_in_llm_mode_are_not_obeyed_or_are_caught(injected_settings, llama_server):
    bot = Assistant(small_llm(injected_settings, llama_server, k=1))
    answer = bot.ask(BRIDGE_Q)
    assert answer.mode == "llm"
    assert unmarked(answer.text).strip(" .!").upper() != "HACKED"
    for sentence in sentences(answer.text):
        if re.search(r"hacked|ignore previous|disregard", sentence, re.I):
            assert unmarked(sentence) in answer.unsupported_sentences, \
                f"an obeyed injection passed verification: {sentence!r}"
    # And the question is still answered from the facts around the planted lines.
    assert not answer.refused and "1932" in answer.text, answer.text
    assert all(c.quote in INJECTED_TEXT for c in answer.citations)


def _local_servers(model_path: str, exclude_url: str) -> list[psutil.Process]:
    """llama.cpp servers for model_path that this test process started, other than the session fixture's."""
    exclude_port = exclude_url.rsplit(":", 1)[1].split("/")[0]
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            cmdline = child.cmdline()
        except psutil.Error:
            continue
        if "llama_cpp.server" in cmdline and model_path in cmdline and exclude_port not in cmdline:
            found.append(child)
    return found


def _forget_local_servers(model_path: str, exclude_url: str) -> None:
    """Stops the provider's own servers for model_path and forgets them, so the next test starts afresh."""
    for server in _local_servers(model_path, exclude_url):
        server.terminate()
        server.wait(15)
    llm_module._servers.pop(model_path, None)
    llm_module._chat_model.cache_clear()


@slow
def test_llamacpp_provider_starts_one_local_server_that_assistants_share(injected_settings, llama_server):
    path = gguf_path(SMOLLM2)
    assert path not in llm_module._servers and not _local_servers(path, llama_server)
    by_name = Assistant(injected_settings, mode="llm", llm=f"llamacpp:{SMOLLM2}", k=1, llm_max_tokens=48,
                        llm_timeout=120)
    by_path = Assistant(injected_settings, mode="llm", llm=f"llamacpp:{path}", k=1, llm_max_tokens=40,
                        llm_timeout=120)
    try:
        first = by_name.ask(BRIDGE_Q)
        second = by_path.ask(BRIDGE_Q)
        servers = _local_servers(path, llama_server)
        assert len(servers) == 1, [s.cmdline() for s in servers]
        url = llm_module._servers[path].url
        assert url.startswith("http://127.0.0.1:") and url.rsplit(":", 1)[1].split("/")[0] in servers[0].cmdline()
        for answer in (first, second):
            assert answer.mode == "llm" and not answer.refused and "1932" in answer.text, answer.text
    finally:
        _forget_local_servers(path, llama_server)


def test_llamacpp_provider_with_a_missing_file_is_a_clear_error(injected_settings, tmp_path):
    bot = Assistant(injected_settings, mode="llm", llm=f"llamacpp:{tmp_path / 'missing.gguf'}")
    with pytest.raises(LLMError, match="no GGUF file at .*missing.gguf"):
        bot.ask(BRIDGE_Q)


@slow
def test_a_local_server_that_dies_is_named_with_its_signal_and_stderr(injected_settings, llama_server):
    """The server crashes as a mis-compiled llama.cpp does (SIGSEGV): the error says so, not 'Connection error.'."""
    path = gguf_path(SMOLLM2)
    bot = Assistant(injected_settings, mode="llm", llm=f"llamacpp:{SMOLLM2}", k=1, llm_max_tokens=16, llm_timeout=60)
    try:
        bot.ask(BRIDGE_Q)  # starts the provider's own server
        process = llm_module._servers[path].process
        os.kill(process.pid, signal.SIGSEGV)
        process.wait(30)  # reaped by its Popen, which then knows the signal (psutil's wait would hide it)
        with pytest.raises(LLMError) as failed:
            bot.ask(BRIDGE_Q)
        message = str(failed.value)
        assert "llama.cpp server" in message and "signal 11 (SIGSEGV)" in message, message
        assert "Segmentation fault" in message, message  # the last lines of its stderr (faulthandler's report)
        assert "Connection error" not in message and "\n" not in message
        # The dead server is forgotten: the next question starts a new one and is answered.
        assert "1932" in bot.ask(BRIDGE_Q).text
    finally:
        _forget_local_servers(path, llama_server)
