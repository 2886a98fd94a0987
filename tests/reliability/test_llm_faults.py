"""The LLM endpoint down, slow, endless, cut off or talking nonsense (tests/reliability/fake_openai.py): every call
ends with one readable line or an answer whose citations hold, in the API, the chat turn and the CLI."""

import pytest

from assistant import ui
from assistant.api import Assistant
from assistant.errors import LLMError
from tests.helpers import WITKOFF_Q, chat_reply, check_answer, llm_settings, one_line, run_cli, within
from tests.servers import free_port

# -- the LLM endpoint is down, slow or talks nonsense ------------------------------------------------------------
FAILING = ["drop", "slow", "trickle", "cutoff", "badchunk", "error500", "notjson"]
ANSWERING = ["good", "nocite", "invented", "offtopic", "cutoff_clean", "obey"]


@pytest.mark.parametrize("behaviour", FAILING + ANSWERING + ["down"])
def test_llm_faults_give_a_readable_error_or_a_checked_answer(sample_settings, fake_llm, behaviour):
    settings = llm_settings(sample_settings, fake_llm.url, f"openai:{behaviour}", llm_timeout=2.0)
    if behaviour == "down":  # nothing listens on the port
        settings = settings.with_overrides(llm="openai:good", llm_base_url=f"http://127.0.0.1:{free_port()}/v1")
    bot = Assistant(settings)
    bound = 3 * settings.llm_timeout + 5  # the HTTP client's retry, then the answer's own deadline
    for call in (lambda: bot.ask(WITKOFF_Q), lambda: list(bot.stream(WITKOFF_Q))[-1]):
        if behaviour in FAILING or behaviour == "down":
            with pytest.raises(LLMError) as info:
                within(bound + 10, call)
            assert one_line(str(info.value)).startswith("llm: ")
        else:
            answer = within(bound + 10, call)
            check_answer(answer)
            if behaviour == "good":
                assert not answer.refused and "Witkoff" in answer.text and answer.citations[0].supported
            if behaviour == "invented":
                assert "cheese" not in answer.text \
                    or "The moon is made of green cheese." in answer.unsupported_sentences
            if behaviour in ("offtopic", "obey"):
                assert answer.refused or answer.unsupported_sentences, answer


def test_llm_faults_in_the_chat_are_one_readable_line(sample_settings, fake_llm):
    base = sample_settings.with_overrides(llm_base_url=fake_llm.url, llm_api_key="test", llm_timeout=2)
    for behaviour in ["trickle", "cutoff", "error500", "good", "invented"]:
        turns = within(20, lambda: list(ui.respond(base, WITKOFF_Q, None, mode="llm", llm=f"openai:{behaviour}")))
        reply = chat_reply(turns)
        assert "Traceback" not in reply and "went wrong" not in reply, (behaviour, reply)
        if behaviour in FAILING:
            assert "chat-error" in reply and "llm: openai:" in reply, reply
        else:
            assert "chat-error" not in reply and "[9]" not in reply, reply
            assert turns[-1][3]["history"], "an answered turn is kept in the session"


@pytest.mark.slow
def test_cli_ask_against_an_endless_llm_stream_ends_with_one_line(sample_settings, fake_llm):
    result = run_cli("ask", WITKOFF_Q, "--mode", "llm", "--llm", "openai:trickle", "--llm-base-url", fake_llm.url,
                     "--data-dir", str(sample_settings.data_dir), "--collection", sample_settings.collection,
                     env={"ASSISTANT_LLM_TIMEOUT": "2", "ASSISTANT_LLM_API_KEY": "test"}, timeout=120)
    assert result.returncode == 1
    assert one_line(result.stderr.strip()) \
        == "error: llm: openai:trickle did not finish its answer within 2 s (llm_timeout)"
