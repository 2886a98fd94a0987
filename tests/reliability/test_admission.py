"""Admission control on real parts: answers held by an LLM endpoint that answers only when the test says so fill the
slots and the line; the next request, on the page or over /v1, is refused at once as busy, and the held ones answer."""

import json
import threading
import urllib.error
import urllib.request

import pytest

from assistant import ui
from assistant.admission import BUSY, Admission, Busy, admission
from assistant.openai_api import router
from tests.helpers import WITKOFF_Q, chat_reply, llm_settings, within
from tests.servers import free_port


# -- the line itself ----------------------------------------------------------------------------------------------
def wait_until(line: Admission, condition, timeout: float = 60) -> None:
    with line.changed:
        assert line.changed.wait_for(lambda: condition(line), timeout), (line.running, line.waiting)


def test_admission_runs_the_limit_queues_the_line_and_refuses_the_rest_in_order():
    line = Admission(concurrency=1, queue=2, retry_after=7)
    release, order = threading.Event(), []

    def answer(name: str) -> None:
        with line.slot():
            order.append(name)
            release.wait(60)

    threads = [threading.Thread(target=answer, args=(name,), daemon=True) for name in ("first", "second", "third")]
    threads[0].start()
    wait_until(line, lambda s: s.running == 1)
    for thread in threads[1:]:
        thread.start()
        wait_until(line, lambda s, n=threads.index(thread): s.waiting == n)
    def third_in_line() -> None:
        with line.slot():
            pass

    with pytest.raises(Busy) as refused:
        within(60, third_in_line)
    assert str(refused.value) == BUSY and refused.value.retry_after == 7 and line.refused == 1
    release.set()
    for thread in threads:
        thread.join(60)
    assert order == ["first", "second", "third"] and line.running == 0 and line.waiting == 0


def test_an_async_waiter_that_gives_up_leaves_the_line():
    import asyncio

    line = Admission(concurrency=1, queue=1)

    async def main() -> None:
        async with line.aslot():
            waiter = asyncio.create_task(_enter(line))
            while line.waiting == 0:
                await asyncio.sleep(0)  # let the task reach the line (no clock involved)
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
            assert line.waiting == 0
        assert line.running == 0

    asyncio.run(main())


async def _enter(line: Admission) -> None:
    async with line.aslot():
        pass


# -- the page and /v1 on one in-process server --------------------------------------------------------------------
def post_chat(url: str, model: str) -> tuple[int, dict, dict]:
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": WITKOFF_Q}]}).encode()
    request = urllib.request.Request(url + "v1/chat/completions", body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return response.status, dict(response.headers), json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.load(error)


@pytest.mark.slow
def test_a_full_line_is_refused_at_once_as_busy_and_the_admitted_answers_complete(sample_settings, fake_llm,
                                                                                    tmp_path, monkeypatch):
    from gradio_client import Client

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    settings = llm_settings(sample_settings, fake_llm.url, "openai:hold", llm_timeout=300,
                            max_concurrent_answers=1, max_queued_answers=1)
    line = admission(settings)
    fake_llm.hold()
    app = ui.launch(settings, port=free_port(), prevent_thread_lock=True, sample=False, routers=[router(settings)])
    url = f"http://127.0.0.1:{app.server_port}/"
    model = f"grounded-assistant/{settings.collection}"
    results: dict = {}
    try:
        # One answer runs (held at the LLM), one waits in line: the line is full.
        running = threading.Thread(target=lambda: results.update(api=post_chat(url, model)), daemon=True)
        running.start()
        fake_llm.wait_held(1)
        page = Client(url, verbose=False)
        waiting = threading.Thread(target=lambda: results.update(page=page.predict(WITKOFF_Q, api_name="/ask")),
                                   daemon=True)
        waiting.start()
        wait_until(line, lambda s: s.waiting == 1)

        # The next one, on either face, is refused while both are still held: it did not wait for them.
        status, headers, body = within(60, post_chat, url, model)
        assert status == 429 and headers.get("retry-after") == "5", (status, headers)
        assert body["error"]["message"] == BUSY and body["error"]["code"] == "server_busy", body
        with pytest.raises(Exception, match=BUSY):
            within(60, Client(url, verbose=False).predict, WITKOFF_Q, api_name="/ask")
        reply = chat_reply(within(60, lambda: list(ui.respond(settings, WITKOFF_Q, None))))
        assert BUSY in reply and "chat-error" in reply, reply
        assert fake_llm.held == 1 and line.waiting == 1 and line.refused >= 3
    finally:
        fake_llm.release()
        running.join(300)
        waiting.join(300)
        app.close()
    status, _, body = results["api"]
    assert status == 200 and not body["grounding"]["refused"], body
    assert "Witkoff" in body["choices"][0]["message"]["content"], body
    assert not results["page"]["refused"] and "Witkoff" in results["page"]["text"], results["page"]
    wait_until(line, lambda s: s.running == 0 and s.waiting == 0)


@pytest.mark.slow
def test_the_page_says_busy_in_the_browser_while_every_slot_is_taken(sample_settings, tmp_path, monkeypatch):
    """The chat event itself, sent by the page in Chromium: with the one slot held and no place in line, the turn
    ends in the busy line instead of waiting; once the slot is free the same page answers."""
    from tests.ui.browser import ChatPage, chrome

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    settings = sample_settings.with_overrides(max_concurrent_answers=1, max_queued_answers=0)
    line = admission(settings)
    taken, release = threading.Event(), threading.Event()

    def hold() -> None:
        with line.slot():
            taken.set()
            release.wait(300)

    holder = threading.Thread(target=hold, daemon=True)
    app = ui.launch(settings, port=free_port(), prevent_thread_lock=True, sample=False)
    driver = chrome(str(tmp_path / "profile"))
    try:
        page = ChatPage(driver, f"http://127.0.0.1:{app.server_port}/").open()
        holder.start()
        assert taken.wait(60)
        refused = line.refused
        bubble = page.ask(WITKOFF_Q, timeout=60)  # a bound on a hang, not on speed
        assert bubble.find_elements("css selector", ".chat-error") and BUSY in bubble.text, bubble.text
        assert line.refused == refused + 1 and line.running == 1 and line.waiting == 0
        release.set()
        holder.join(60)
        assert "Witkoff" in page.ask(WITKOFF_Q).text
    finally:
        release.set()
        driver.quit()
        app.close()
