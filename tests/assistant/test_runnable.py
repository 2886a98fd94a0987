"""`Assistant` as a LangChain Runnable: invoke, batch and stream inside an LCEL chain, through the one pipeline."""

from operator import itemgetter

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.runnables import RunnableLambda

from assistant.answer import REFUSAL
from assistant.types import Answer
from tests.helpers import WITKOFF_Q

FOLLOW_UP = "What did he say?"  # refused without its history, answered with it
KYIV = "What is the population of Kyiv?"


def test_inside_an_lcel_chain_invoke_batch_and_stream_give_the_asks_answer(sample_bot):
    chain = ({"question": itemgetter("q"), "history": itemgetter("h")} | sample_bot
             | RunnableLambda(lambda answer: answer.reply_markdown()))
    expected = sample_bot.ask(WITKOFF_Q).reply_markdown()
    assert chain.invoke({"q": WITKOFF_Q, "h": []}) == expected
    assert chain.batch([{"q": WITKOFF_Q, "h": []}, {"q": KYIV, "h": []}]) == [expected, REFUSAL]
    assert "".join(chain.stream({"q": WITKOFF_Q, "h": []})) == expected


def test_invoke_takes_a_question_or_a_question_with_its_history(sample_bot):
    first = sample_bot.invoke(WITKOFF_Q)
    assert isinstance(first, Answer)
    assert first.model_copy(update={"timings": {}}) == sample_bot.ask(WITKOFF_Q).model_copy(update={"timings": {}})
    follow = sample_bot.invoke({"question": FOLLOW_UP, "history": [(WITKOFF_Q, first.text)]})
    assert not follow.refused and "Witkoff" in follow.text
    assert sample_bot.invoke(FOLLOW_UP).refused


def test_stream_of_a_question_dict_ends_with_the_answer(sample_bot):
    items = list(sample_bot.stream({"question": WITKOFF_Q}))
    assert isinstance(items[-1], Answer) and items[-1].text == sample_bot.ask(WITKOFF_Q).text


async def test_ainvoke_and_astream_in_a_chain(sample_bot):
    chain = sample_bot | RunnableLambda(lambda answer: answer.text)
    assert await chain.ainvoke(KYIV) == REFUSAL
    assert [chunk async for chunk in chain.astream(KYIV)] == [REFUSAL]


class Stages(BaseCallbackHandler):
    def __init__(self):
        self.names: list[str] = []

    def on_chain_start(self, serialized, inputs, *, name=None, **kwargs):
        self.names.append(name or "")


def test_a_callers_callbacks_see_the_pipelines_stages(sample_bot):
    stages = Stages()
    sample_bot.invoke(WITKOFF_Q, {"callbacks": [stages]})
    assert [n for n in stages.names if n in ("condense", "retrieve", "answer", "verify")] == \
        ["condense", "retrieve", "answer", "verify"]
