"""The OpenAI-compatible endpoint, driven by the real `openai` client against a real server on 127.0.0.1."""

import json
import subprocess
import threading
import time
import urllib.error
import urllib.request

import openai
import pytest

from assistant.answer import REFUSAL
from assistant.openai_api import Message, conversation, serve_app
from assistant.types import answer_of_reply
from tests.helpers import BIN, WITKOFF_Q, one_line, run_cli, store_flags
from tests.servers import ChatServer, free_port, stop, wait_http

KEY = "test-key"
FOLLOW_UP = "What did he say?"  # refused without its history, answered with it


class Served:
    """An app under uvicorn in a thread of this process, on 127.0.0.1 and a free port."""

    def __init__(self, app):
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "Served":
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "the server did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def endpoint(sample_settings):
    with Served(serve_app(sample_settings.with_overrides(api_key=KEY))) as served:
        yield served


@pytest.fixture(scope="module")
def client(endpoint):
    return openai.OpenAI(base_url=endpoint.url, api_key=KEY, max_retries=0, timeout=120)


MODEL = "grounded-assistant/sample"


# -- translation (no server) ------------------------------------------------------------------------------------
def test_conversation_takes_the_last_user_message_and_pairs_before_it_without_the_sources_block():
    reply = "Trump sent Witkoff [1].\n\nSources:\n\n1. `/docs/a.txt`, line 3 (verified)\n   > Witkoff"
    messages = [Message(role="system", content="Be brief."), Message(role="user", content="Who went?"),
                Message(role="assistant", content=reply),
                Message(role="user", content=[{"type": "text", "text": "Why?"}])]
    assert conversation(messages) == ("Why?", [("Who went?", "Trump sent Witkoff [1].")])
    assert answer_of_reply("No sources here.") == "No sources here."


# -- the real client against the real server ---------------------------------------------------------------------
@pytest.mark.slow
def test_models_lists_one_model_per_collection(client, sample_bot):
    ids = [m.id for m in client.models.list().data]
    assert MODEL in ids and sorted(ids) == [f"grounded-assistant/{name}" for name in sample_bot.collections()]


@pytest.mark.slow
def test_a_completion_is_the_pipelines_answer_with_its_sources_and_the_structured_citations(client, sample_bot):
    expected = sample_bot.ask(WITKOFF_Q)
    reply = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": WITKOFF_Q}])
    content = reply.choices[0].message.content
    assert reply.choices[0].finish_reason == "stop" and reply.choices[0].message.role == "assistant"
    assert content == expected.reply_markdown()
    assert content.startswith(expected.text) and "[1]" in content and "\n\nSources:\n" in content
    assert expected.citations[0].quote.splitlines()[0] in content and "(verified)" in content
    grounding = reply.model_extra["grounding"]
    assert grounding["refused"] is False
    assert grounding["citations"] == [c.to_dict() for c in expected.citations]


@pytest.mark.slow
def test_streamed_chunks_add_up_to_the_same_reply(client, sample_bot):
    expected = sample_bot.ask(WITKOFF_Q).reply_markdown()
    stream = client.chat.completions.create(model=MODEL, stream=True,
                                            messages=[{"role": "user", "content": WITKOFF_Q}])
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == expected
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].model_extra["grounding"]["citations"][0]["quote"] in expected


@pytest.mark.slow
def test_history_reaches_the_pipeline_as_it_does_through_ask(client, sample_bot):
    first = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": WITKOFF_Q}])
    earlier = sample_bot.ask(WITKOFF_Q)
    expected = sample_bot.ask(FOLLOW_UP, history=[(WITKOFF_Q, earlier.text)])
    reply = client.chat.completions.create(model=MODEL, messages=[
        {"role": "system", "content": "You are helpful."}, {"role": "user", "content": WITKOFF_Q},
        {"role": "assistant", "content": first.choices[0].message.content}, {"role": "user", "content": FOLLOW_UP}])
    assert "Witkoff" in expected.standalone_question and not expected.refused
    assert reply.choices[0].message.content == expected.reply_markdown()
    assert sample_bot.ask(FOLLOW_UP).refused, "the follow-up needs its history to be answered"


@pytest.mark.slow
def test_a_refusal_is_an_ordinary_assistant_message(client):
    reply = client.chat.completions.create(model=MODEL, messages=[
        {"role": "user", "content": "What is the population of Kyiv?"}])
    assert reply.choices[0].message.content == REFUSAL and reply.choices[0].finish_reason == "stop"
    assert reply.model_extra["grounding"] == {"refused": True, "citations": [], "unsupported_sentences": []}


@pytest.mark.slow
@pytest.mark.parametrize("messages, words", [
    ([], "messages"),
    ([{"role": "assistant", "content": "Hello"}], "the last message must be the user's question"),
    ([{"role": "user", "content": "   "}], "question: empty"),
    ([{"role": "wizard", "content": "hi"}], "messages.0.role"),
])
def test_bad_requests_are_400_in_the_openai_error_shape(client, messages, words):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=messages)
    assert caught.value.status_code == 400 and words in caught.value.body["message"], caught.value.body
    assert caught.value.body["type"] == "invalid_request_error"


@pytest.mark.slow
def test_an_unknown_model_is_404_naming_the_list(client):
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": WITKOFF_Q}])
    assert caught.value.body["code"] == "model_not_found" and "/v1/models" in caught.value.body["message"]


@pytest.mark.slow
def test_a_missing_or_wrong_key_is_401(endpoint):
    wrong = openai.OpenAI(base_url=endpoint.url, api_key="not-the-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        wrong.models.list()
    assert caught.value.status_code == 401 and caught.value.body["code"] == "invalid_api_key"
    request = urllib.request.Request(f"{endpoint.url}/chat/completions", method="POST",
                                     data=json.dumps({"model": MODEL, "messages": []}).encode(),
                                     headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(request, timeout=30)
    assert missing.value.code == 401, "the key is checked before the body"
    assert json.loads(missing.value.read())["error"]["code"] == "invalid_api_key"


@pytest.mark.slow
def test_a_body_that_is_not_json_is_400_naming_the_body(endpoint):
    request = urllib.request.Request(f"{endpoint.url}/chat/completions", method="POST", data=b"not json",
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=30)
    assert caught.value.code == 400
    assert json.loads(caught.value.read())["error"]["message"] == "body: JSON decode error"


@pytest.mark.slow
def test_an_unreachable_store_is_503_in_the_openai_error_shape(settings):
    down = settings.with_overrides(chroma_url=f"http://127.0.0.1:{free_port()}", store_timeout=2)
    with Served(serve_app(down)) as served:
        client = openai.OpenAI(base_url=served.url, api_key="any", max_retries=0)
        with pytest.raises(openai.InternalServerError) as caught:
            client.models.list()
        assert caught.value.status_code == 503 and caught.value.body["message"].startswith("store unreachable at")
        with pytest.raises(openai.InternalServerError) as caught:
            client.chat.completions.create(model="grounded-assistant/test-docs",
                                           messages=[{"role": "user", "content": WITKOFF_Q}])
        assert caught.value.status_code == 503


@pytest.mark.slow
def test_no_key_set_lets_any_client_in(sample_settings):
    with Served(serve_app(sample_settings)) as served:
        anyone = openai.OpenAI(base_url=served.url, api_key="anything", max_retries=0)
        assert MODEL in [m.id for m in anyone.models.list().data]


@pytest.mark.slow
def test_assistant_chat_serves_the_endpoint_beside_the_page(tmp_path):
    chat = ChatServer(tmp_path / "data", "chat-docs", "--api-key", KEY).start()
    try:
        client = openai.OpenAI(base_url=chat.url + "v1", api_key=KEY, max_retries=0, timeout=120)
        assert [m.id for m in client.models.list().data] == ["grounded-assistant/chat-docs"]
        reply = client.chat.completions.create(model="grounded-assistant/chat-docs",
                                               messages=[{"role": "user", "content": WITKOFF_Q}])
        assert "Witkoff" in reply.choices[0].message.content and "Sources:" in reply.choices[0].message.content
        urllib.request.urlopen(chat.url, timeout=30).close()  # the page is still there
    finally:
        chat.stop()


@pytest.mark.slow
def test_assistant_serve_listens_on_loopback_and_a_taken_port_is_one_line(sample_settings):
    port = free_port()
    process = subprocess.Popen([str(BIN / "assistant"), "serve", "--port", str(port), *store_flags(sample_settings)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/v1/models", 120, process)
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="any", max_retries=0, timeout=120)
        assert MODEL in [m.id for m in client.models.list().data]
        taken = run_cli("serve", "--port", str(port), *store_flags(sample_settings), timeout=120)
        assert taken.returncode == 1
        assert one_line(taken.stderr).startswith(f"error: --host 127.0.0.1 --port {port}: "), taken.stderr
    finally:
        stop(process)


@pytest.mark.slow
def test_assistant_chat_with_a_password_and_no_key_does_not_serve_v1(tmp_path):
    guarded = ChatServer(tmp_path / "data", "auth-v1", "--auth", "reader:s3cret").start()
    try:
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(guarded.url + "v1/models", timeout=30)
        assert caught.value.code == 404, "the page's password does not cover /v1: it is not served"
        assert "/v1 (the OpenAI-compatible endpoint) is not served" in guarded.log()
    finally:
        guarded.stop()
