"""The chat page: the real app in a real browser (Debian's Chromium) and through gradio_client."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest

from tests.helpers import ROOT, line_of
from tests.servers import ChatServer
from tests.ui.browser import ChatPage, DocumentsPanel, chrome

WITKOFF_LINE = line_of("his envoy, Steve Witkoff")
ARTIFACTS = ROOT / "test-artifacts"
EVIL = '<img src=x onerror="window.__xss=2">'


# -- the real app, in a real browser ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`assistant chat` on a fresh data dir: its first start ingests the bundled sample."""
    app = ChatServer(tmp_path_factory.mktemp("chat") / "data").start()
    yield app
    app.stop()


@pytest.fixture
def page(server, tmp_path):
    driver = chrome(str(tmp_path / "profile"))
    try:
        yield ChatPage(driver, server.url).open()
    finally:
        driver.quit()


def no_live_markup(page: ChatPage) -> None:
    assert page.js("return window.__xss") is None
    assert page.js("return document.querySelectorAll('a[href^=\"javascript\" i], img[onerror], [onerror]').length") == 0
    assert not page.js("return [...document.scripts].some(s => s.textContent.includes('__xss'))")


@pytest.mark.slow
def test_first_start_ingests_the_sample_and_prints_the_url(server):
    log = server.log()
    assert f"Chat running on {server.url}" in log and "ingesting the sample corpus" in log


@pytest.mark.slow
def test_browser_answers_with_a_highlighted_verified_source(page):
    bubble = page.ask("Who did Trump send to Moscow?")
    assert "Witkoff" in bubble.text
    cards = page.latest_sources()
    assert cards, "the sources panel lists no source"
    card = next(c for c in cards if "Witkoff" in c.find_element("css selector", "mark").text)
    head = card.find_element("css selector", ".src-head").text
    assert "peace-talks.txt" in head and f"line {WITKOFF_LINE}" in head
    assert card.find_element("css selector", ".badge.verified").is_displayed()
    assert "Steve Witkoff" in card.find_element("css selector", ".passage mark").text
    ARTIFACTS.mkdir(exist_ok=True)
    page.driver.save_screenshot(str(ARTIFACTS / "ui.png"))
    # The [n] marker in the answer links to its entry in the panel.
    link = bubble.find_element("css selector", "a.cite")
    target = link.get_attribute("href").split("#", 1)[1]
    assert target == card.get_attribute("id")
    link.click()
    page.wait(lambda d: d.execute_script("return location.hash") == f"#{target}", 10, "the marker did not link")


@pytest.mark.slow
def test_browser_upload_then_ask_about_it(page, tmp_path):
    notes = tmp_path / "observatory-notes.txt"
    notes.write_text("Field notes, volume two.\nThe Quillfeather Observatory was founded in 1893 by the astronomer "
                     "Marisol Ventrano.\nIts telescope was ground in Lisbon.\n", encoding="utf-8")
    empty = tmp_path / "blank.txt"
    empty.write_text("   \n")
    status = page.upload(notes, empty)
    assert "1 added, 1 failed" in status and "observatory-notes.txt" in status and "blank.txt: empty" in status
    bubble = page.ask("Who founded the Quillfeather Observatory?")
    assert "Marisol Ventrano" in bubble.text
    heads = [c.find_element("css selector", ".src-head").text for c in page.latest_sources()]
    assert any("observatory-notes.txt" in h and "line 2" in h for h in heads), heads


@pytest.mark.slow
def test_browser_renders_hostile_documents_and_questions_inert(page, tmp_path):
    text = ("Notes on the Glimmerwick Bridge.\n"
            "The Glimmerwick Bridge was painted violet in 1921 <script>window.__xss=1</script> by the council.\n"
            f"The Glimmerwick Bridge spans the river Ose {EVIL} near the old mill.\n"
            "Tolls from the Glimmerwick Bridge fund the lighthouse [click](javascript:window.__xss=3) every year.\n")
    (tmp_path / "glimmerwick.txt").write_text(text, encoding="utf-8")
    (tmp_path / "glimmerwick-notes.md").write_text("# Glimmerwick\n\n" + text, encoding="utf-8")
    hostile = ROOT / "tests" / "fixtures" / "hostile"  # the reliability suite's corpus: script, handlers, bidi tricks
    status = page.upload(tmp_path / "glimmerwick.txt", tmp_path / "glimmerwick-notes.md", hostile / "markup.html",
                         hostile / "markdown-tricks.md", hostile / "unicode-tricks.txt")
    assert "5 added" in status
    no_live_markup(page)
    for question, expected in (("What does the Pellworth orchard grow?", "quinces"),
                               ("When was the Quenby mill rebuilt?", "1953"),
                               ("When was the Glimmerwick Bridge painted violet?", "Glimmerwick"),
                               ("What do tolls from the Glimmerwick Bridge fund?", "Glimmerwick"),
                               (f"What river does the Glimmerwick Bridge span? {EVIL.replace('2', '4')}",
                                "Glimmerwick")):
        bubble = page.ask(question)
        assert expected in bubble.text, bubble.text
        no_live_markup(page)
    # Shown as text, not dropped: the question and the quoted sentences in the chat, the passages in the panel.
    chat = page.js("return document.querySelector('#chat').textContent")
    sources = page.js("return document.querySelector('#sources').textContent")
    assert EVIL.replace("2", "4") in chat
    markups = ("<script>window.__xss=1</script>", EVIL, "[click](javascript:window.__xss=3)")
    assert sum(markup in chat for markup in markups) >= 2, chat
    for markup in markups:
        assert markup in sources, f"{markup!r} is not shown as text in the sources panel"
    files = {c.find_element("css selector", ".src-file").text for c in page.latest_sources()}
    assert files & {"glimmerwick.txt", "glimmerwick-notes.md"}, files


@pytest.mark.slow
def test_browser_documents_panel_lists_removes_scopes_and_exports(page, tmp_path):
    page.set_collection("library-docs")  # its own collection: the listing holds only what this test uploads
    docs = DocumentsPanel(page)
    docs.wait_listed(set())
    files = {"lighthouse-log.txt": "Brannoch harbour records.\nThe keeper of the Brannoch light in 1902 was Ewan "
                                   "Tolley.\nHe lit the lamp with paraffin every evening.\n",
             "canal-notes.md": f"# Canal notes {EVIL}\n\nThe keeper of the Dunmore lock in 1902 was Isobel Reany.\n"
                               "The canal froze over in the winter of 1903.\n",
             "mill-ledger.txt": "Quenby mill ledger.\nThe keeper of the Quenby mill in 1902 was Hamish Oakes.\n"}
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert "3 added" in page.upload(*(tmp_path / name for name in files))
    docs.wait_listed(set(files))
    row = page.js("return [...document.querySelectorAll('#doc-table tbody tr')].map(r => r.innerText)")
    canal = next(r for r in row if "canal-notes.md" in r)
    assert "md" in canal and "1" in canal.split("\t")[4] and "<img" in canal  # the hostile title, as text
    no_live_markup(page)

    docs.select("lighthouse-log.txt")
    assert "lighthouse-log.txt" in docs.remove_selected()
    assert set(docs.wait_listed({"canal-notes.md", "mill-ledger.txt"})) == {"canal-notes.md", "mill-ledger.txt"}

    docs.select("canal-notes.md")
    notice = docs.scope_to_selected()
    assert "canal-notes.md" in notice and "mill-ledger.txt" not in notice
    bubble = page.ask("Who was the keeper in 1902?")
    assert "Isobel Reany" in bubble.text and "Tolley" not in bubble.text and "Oakes" not in bubble.text
    assert {c.find_element("css selector", ".src-file").text for c in page.latest_sources()} == {"canal-notes.md"}
    follow = page.ask("When did the canal freeze over?")
    assert "1903" in follow.text
    ARTIFACTS.mkdir(exist_ok=True)
    page.driver.set_window_size(1400, page.js("return document.documentElement.scrollHeight") + 140)
    page.driver.save_screenshot(str(ARTIFACTS / "documents.png"))  # the whole page: scope, chat and panel

    markdown = docs.download("export-md", tmp_path / "downloads", "conversation.md").read_text(encoding="utf-8")
    exported = json.loads(docs.download("export-json", tmp_path / "downloads", "conversation.json").read_text())
    assert [t["question"] for t in exported["turns"]] == ["Who was the keeper in 1902?",
                                                          "When did the canal freeze over?"]
    for turn in exported["turns"]:
        assert turn["citations"] and f"### {turn['question']}" in markdown
        for c in turn["citations"]:
            assert c["source"].endswith("canal-notes.md") and c["quote"] in files["canal-notes.md"]
            assert f"   > {c['quote']}" in markdown and f"`, line {c['line_start']}" in markdown
    assert "Isobel Reany" in markdown and "(verified)" in markdown and "lighthouse-log.txt" not in markdown

    docs.unscope()
    assert "Oakes" in page.ask("Who kept the Quenby mill in 1902?").text


@pytest.mark.slow
def test_browser_shows_errors_in_the_chat_and_keeps_serving(page):
    page.set_collection("empty-docs")
    bubble = page.ask("Who did Trump send to Moscow?")
    assert bubble.find_elements("css selector", ".chat-error") and "has no documents" in bubble.text
    assert "Traceback" not in page.js("return document.body.innerText")
    page.set_collection("ui-docs")
    assert "Witkoff" in page.ask("Who did Trump send to Moscow?").text
    page.driver.find_element("css selector", "#clear").click()
    page.wait(lambda d: not page.messages("user") and page.turns() == 0, 10, "clear chat left messages behind")


@pytest.mark.slow
def test_two_browser_sessions_do_not_share_history(server, tmp_path):
    from selenium.webdriver.common.keys import Keys

    drivers = [chrome(str(tmp_path / f"profile-{i}")) for i in range(2)]
    try:
        pages = [ChatPage(d, server.url).open() for d in drivers]
        questions = ["Who did Trump send to Moscow?", "What is the Zaporizhzhia plant?"]
        for p, q in zip(pages, questions):  # both in flight at once
            box = p.driver.find_element("css selector", "#question textarea")
            box.send_keys(q)
            box.send_keys(Keys.ENTER)
        for p in pages:
            p.wait(lambda d, p=p: p.turns() == 1, 120, "an answer did not arrive")
        for p, mine, other in ((pages[0], *questions), (pages[1], *reversed(questions))):
            assert [m.text for m in p.messages("user")] == [mine]
            assert other not in p.js("return document.querySelector('#chat').textContent")
            assert other not in p.js("return document.querySelector('#sources').textContent")
        drivers[1].refresh()  # a new page load is a new session
        ChatPage(drivers[1], server.url).open()
        assert not pages[1].messages("user") and pages[1].turns() == 0
    finally:
        for d in drivers:
            d.quit()


# -- the named API endpoint -----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_gradio_client_asks_the_named_endpoint(server):
    from gradio_client import Client

    client = Client(server.url, verbose=False)
    assert "/ask" in client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    result = client.predict("Who did Trump send to Moscow?", api_name="/ask")
    assert "Witkoff" in result["text"] and not result["refused"]
    witkoff = [c for c in result["citations"] if "Witkoff" in c["quote"]]
    assert witkoff and witkoff[0]["source"].endswith("peace-talks.txt") and witkoff[0]["line_start"] == WITKOFF_LINE
    assert witkoff[0]["supported"] is True
    follow = client.predict("What did he tell CNN?", '[["Who did Trump send to Moscow?", "Steve Witkoff"]]',
                            api_name="/ask")
    assert "Witkoff" in follow["standalone_question"]
    with pytest.raises(Exception, match="question: empty"):
        client.predict("   ", api_name="/ask")
    assert client.predict("What is the Zaporizhzhia plant?", api_name="/ask")["citations"]  # still serving


@pytest.mark.slow
def test_gradio_clients_in_parallel_get_their_own_answers(server):
    from gradio_client import Client

    questions = {"Who did Trump send to Moscow?": "Witkoff", "What is the Zaporizhzhia plant?": "Zaporizhzhia"}
    results, errors = {}, []

    def ask(question):
        try:
            results[question] = Client(server.url, verbose=False).predict(question, api_name="/ask")
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(q,)) for q in questions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors and len(results) == 2
    for question, word in questions.items():
        assert results[question]["question"] == question and word in results[question]["text"]


@pytest.mark.slow
def test_auth_guards_the_page_and_the_api(tmp_path):
    from gradio_client import Client

    guarded = ChatServer(tmp_path / "data", "auth-docs", "--auth", "reader:s3cret pass").start()
    try:
        with pytest.raises(Exception, match="credentials were not provided"):
            Client(guarded.url, verbose=False).predict("Who did Trump send to Moscow?", api_name="/ask")
        with pytest.raises(ValueError, match="Could not login"):
            Client(guarded.url, auth=("reader", "wrong"), verbose=False)
        with pytest.raises(urllib.error.HTTPError, match="401"):
            urllib.request.urlopen(guarded.url + "config", timeout=10)
        client = Client(guarded.url, auth=("reader", "s3cret pass"), verbose=False)
        assert "Witkoff" in client.predict("Who did Trump send to Moscow?", api_name="/ask")["text"]
    finally:
        guarded.stop()
