"""Odd questions (empty, huge, control characters, other scripts, lone surrogates, markup, injection) in the API,
the chat turn, the CLI and the page's /ask endpoint: a one-line validation message or a well-formed answer."""

import json

import pytest

from assistant import ui
from assistant.errors import InvalidQuestion
from assistant.types import Answer
from tests.helpers import chat_reply, check_answer, one_line, run_cli
from tests.reliability.gradio_http import raw_ask

# -- questions -------------------------------------------------------------------------------------------------------
ODD_QUESTIONS = {
    "": "invalid", "   \n\t  ": "invalid", "x" * 100_000: "invalid",
    "Who\x00 did\x1b[31m Trump\x07 send to Moscow?": "answer", "Кого Трамп отправил в Москву?": "answer",
    "特朗普派谁去了莫斯科？": "answer", "من أرسل ترامب إلى موسكو؟": "answer",
    "🤔🚀 Who did Trump send to Moscow? 🇺🇦": "answer", "\ud800 Witkoff \udfff?": "answer",
    "\u202e\u200bWitkoff\ufeff?": "answer", "[1] [2] [9]": "answer", "<script>alert(1)</script>": "answer",
    "{{7*7}} ' OR 1=1; DROP TABLE documents; --": "answer", "\\" * 50: "answer",
}


def test_odd_questions_in_the_api_are_a_validation_message_or_an_answer(sample_bot):
    for question, expected in ODD_QUESTIONS.items():
        for call in (sample_bot.ask, lambda q: list(sample_bot.stream(q))[-1]):
            if expected == "invalid":
                with pytest.raises(InvalidQuestion, match=r"^question: "):
                    call(question)
            else:
                answer = call(question)
                check_answer(answer)
                json.dumps(answer.to_dict())  # serialisable: no lone surrogates left


def test_odd_questions_in_the_chat_are_a_message_or_an_answer(sample_settings):
    for question, expected in ODD_QUESTIONS.items():
        turns = list(ui.respond(sample_settings, question, None))
        if not question.strip():
            assert turns[-1][1] == []  # nothing to ask: nothing shown
            continue
        reply = chat_reply(turns)
        assert "went wrong" not in reply and "Traceback" not in reply, (question[:40], reply)
        if expected == "invalid":
            assert "chat-error" in reply and "question:" in reply
        json.dumps(turns[-1][1])  # what Gradio sends to the browser
        assert len(turns[-1][1][0]["content"]) < 3 * sample_settings.max_question_chars  # a 100 KB question is cut


@pytest.mark.slow
def test_odd_questions_on_the_command_line(sample_settings):
    where = ["--data-dir", str(sample_settings.data_dir), "--collection", sample_settings.collection]
    for question, code in (("   ", 1), ("x" * 100_000, 1), ("Who\x1b[31m did 🤔 Трамп send to Moscow?\x07", 0)):
        result = run_cli("ask", question, *where, timeout=180)
        assert result.returncode == code, (question[:30], result.stderr[-500:])
        if code:
            assert one_line(result.stderr.strip()).startswith("error: question: ")
        else:
            assert result.stdout.strip() and "Traceback" not in result.stderr



@pytest.mark.slow
def test_odd_questions_on_the_gradio_endpoint(chat):
    for question, expected in ODD_QUESTIONS.items():
        kind, result = raw_ask(chat, question)
        if expected == "invalid":
            assert kind == "error" and "question: " in str(result), (question[:30], result)
        else:
            assert kind == "complete", (question[:30], result)
            check_answer(Answer.model_validate(result))
