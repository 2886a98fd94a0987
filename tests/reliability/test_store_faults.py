"""A real `chroma run` store server stopped, restarted and frozen (SIGSTOP) under the API, the chat turn, the CLI
and the chat page: one clear line while it is down, answers again once it is back, with nothing restarted."""

import re
import signal

import pytest

from assistant import ui
from assistant.api import Assistant
from assistant.errors import StoreUnreachable
from ingest import ingest_paths
from tests.helpers import SAMPLE, WITKOFF_Q, chat_reply, one_line, run_cli, within


# -- the Chroma server stops, restarts, freezes -----------------------------------------------------------------------
@pytest.mark.slow
def test_store_server_stop_and_restart_in_api_ui_and_cli(chroma_server, settings):
    remote = settings.with_overrides(chroma_url=chroma_server.url, store_timeout=5)
    assert ingest_paths([SAMPLE], remote).added > 0
    bot = Assistant(remote)
    assert "Witkoff" in bot.ask(WITKOFF_Q).text
    chroma_server.stop()
    expected = f"store unreachable at {chroma_server.url}"
    for call in (lambda: bot.ask(WITKOFF_Q), lambda: list(bot.stream(WITKOFF_Q)),
                 lambda: Assistant(remote).ask(WITKOFF_Q)):
        with pytest.raises(StoreUnreachable, match=re.escape(expected)) as info:
            within(15, call)
        one_line(str(info.value))
    reply = chat_reply(within(15, lambda: list(ui.respond(remote, WITKOFF_Q, None))))
    assert "chat-error" in reply and expected in reply and "went wrong" not in reply
    status, _ = ui.ingest_uploads(remote, [str(SAMPLE)], None)
    assert "1 failed" in status and expected in status
    cli = run_cli("ask", WITKOFF_Q, "--chroma-url", chroma_server.url, "--collection", remote.collection,
                  env={"ASSISTANT_STORE_TIMEOUT": "5"}, timeout=120)
    assert cli.returncode == 1 and one_line(cli.stderr.strip()).startswith(f"error: {expected}")

    chroma_server.start()  # same port, same data: the next request works without restarting anything
    assert "Witkoff" in within(30, bot.ask, WITKOFF_Q).text
    assert "Witkoff" in chat_reply(list(ui.respond(remote, WITKOFF_Q, None)))
    cli = run_cli("ask", WITKOFF_Q, "--chroma-url", chroma_server.url, "--collection", remote.collection, timeout=120)
    assert cli.returncode == 0 and "Witkoff" in cli.stdout


@pytest.mark.slow
def test_store_client_is_made_again_after_a_failed_start(chroma_server, settings):
    # A distinct store_timeout gives a client of its own (make_client is cached per URL, path and timeout).
    remote = settings.with_overrides(chroma_url=chroma_server.url, store_timeout=4.5)
    chroma_server.stop()
    with pytest.raises(StoreUnreachable, match=f"store unreachable at {re.escape(chroma_server.url)}: .*refused"):
        within(15, lambda: Assistant(remote).ask(WITKOFF_Q))
    chroma_server.start()
    assert ingest_paths([SAMPLE], remote).added > 0  # the failure was not cached
    assert "Witkoff" in Assistant(remote).ask(WITKOFF_Q).text


@pytest.mark.slow
def test_frozen_store_server_times_out_then_recovers(chroma_server, settings):
    remote = settings.with_overrides(chroma_url=chroma_server.url, store_timeout=2)
    ingest_paths([SAMPLE], remote)
    bot = Assistant(remote)
    assert "Witkoff" in bot.ask(WITKOFF_Q).text
    chroma_server.process.send_signal(signal.SIGSTOP)  # accepts connections, never answers
    try:
        with pytest.raises(StoreUnreachable, match="store unreachable at .*timed out"):
            within(20, bot.ask, WITKOFF_Q)
        reply = chat_reply(within(20, lambda: list(ui.respond(remote, WITKOFF_Q, None))))
        assert "store unreachable" in reply
    finally:
        chroma_server.process.send_signal(signal.SIGCONT)
    assert "Witkoff" in within(30, bot.ask, WITKOFF_Q).text




# -- the chat page in server mode -------------------------------------------------------------
@pytest.mark.slow
def test_chat_page_reports_a_stopped_store_and_recovers(chat, chroma):
    from gradio_client import Client

    client = Client(chat.url, verbose=False)
    assert "Witkoff" in client.predict(WITKOFF_Q, api_name="/ask")["text"]
    chroma.stop()
    try:
        with pytest.raises(Exception, match=f"store unreachable at {re.escape(chroma.url)}"):
            within(60, client.predict, WITKOFF_Q, api_name="/ask")
    finally:
        chroma.start()
    assert "Witkoff" in within(60, client.predict, WITKOFF_Q, api_name="/ask")["text"]
