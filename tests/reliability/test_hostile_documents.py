"""Hostile documents (tests/fixtures/hostile: prompt injection, attempts to close the prompt's passage fence,
HTML/Markdown script, Unicode tricks; each also states one plain fact): answered from, rendered inert, kept as data
in the LLM prompt."""

import re

import pytest

from assistant import ui
from assistant.api import Assistant
from assistant.settings import Settings
from ingest import ingest_paths
from ingest.embedding import get_embedder
from ingest.store import open_store
from tests.helpers import HOSTILE, llm_settings

# Tags the chat and the sources panel write; text from documents and users is escaped inside them.
RENDERED_TAGS = {"a", "span", "br", "mark", "div", "section", "h4", "details", "summary", "p"}


def live_markup(html: str) -> list[str]:
    """Elements, handlers and links in rendered HTML that did not come from our own templates."""
    from html.parser import HTMLParser

    found = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag not in RENDERED_TAGS:
                found.append(f"<{tag}>")
            for name, value in attrs:
                if name.startswith("on") or (name in ("href", "src") and not str(value).startswith("#")):
                    found.append(f"<{tag} {name}={value!r}>")

    Collect().feed(html)
    return found



# -- hostile documents -------------------------------------------------------------------------------------------------
FACTS = {
    "Who was the Brassmoor lighthouse keeper in 1904?": "Odile Farrow",
    "Who built the Tarnwick ferry?": "Holloway",
    "What does the Pellworth orchard grow?": "quinces",
    "When was the Quenby mill rebuilt?": "1953",
    "Where was the Ulvercote bell cast?": "Whitechapel",
}


@pytest.fixture(scope="module")
def hostile_settings(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("hostile") / "data", collection="hostile-docs")
    report = ingest_paths([HOSTILE], settings)
    assert report.files == 5 and not report.failed and not report.skipped, report
    return settings


def test_hostile_documents_are_answered_from_and_stay_inert(hostile_settings):
    stored = open_store(hostile_settings, get_embedder(hostile_settings).identity).everything()
    text = "\n".join(chunk.text for chunk in stored if chunk.meta.source.endswith(".html"))
    for hidden in [f"__xss={n}" for n in (1, 2, 3, 4, 5, 6, 11, 12)] + ["display: none", "template content",
                                                                        "noscript content"]:
        assert not re.search(re.escape(hidden) + r"(?!\d)", text), hidden  # script, handlers, head: never text
    assert "<script>window.__xss=7</script>" in text  # escaped markup in the page is text, kept as text
    bot = Assistant(hostile_settings)
    for turn, (question, fact) in enumerate(FACTS.items(), 1):
        answer = bot.ask(question)
        assert fact in answer.text and not answer.refused, (question, answer.text)
        assert "pwned" not in answer.text.lower() and "evil.example" not in answer.text
        for html in (ui.render_answer(answer, turn), ui.render_sources(answer, turn)):
            assert not live_markup(html), html
    # Bidi overrides cannot reorder what the page shows ("!denwp neeb evah I" stays as stored).
    bell = bot.ask("What is written after the Ulvercote bell's weight?")
    shown = ui.render_sources(bell, 8) + ui.render_answer(bell, 8)
    assert "Ulvercote" in shown and not re.search("[\u202a-\u202e\u2066-\u2069]", shown)
    # Quoting the markup itself: shown, escaped.
    answer = bot.ask("What string defaced the Pellworth orchard website?")
    html = ui.render_answer(answer, 9) + ui.render_sources(answer, 9)
    assert "&lt;script&gt;window.__xss=7&lt;/script&gt;" in html and not live_markup(html)


def test_hostile_documents_stay_data_in_the_llm_prompt(hostile_settings, fake_llm):
    bot = Assistant(llm_settings(hostile_settings, fake_llm.url, "openai:echo", llm_timeout=2.0))
    for question in ("Who built the Tarnwick ferry?", "Who was the Brassmoor lighthouse keeper in 1904?"):
        fake_llm.requests.clear()
        bot.ask(question)
        [request] = [r for r in fake_llm.requests if r.get("stream")]
        system = next(m["content"] for m in request["messages"] if m["role"] == "system")
        passages = system[system.index("<passage "):]
        opened = re.findall(r"<passage number=\"(\d+)\"", passages)
        closed = re.findall(r"</passage\s*>", passages, re.IGNORECASE)
        assert opened == [str(n) for n in range(1, len(opened) + 1)], "a document added a passage of its own"
        assert len(closed) == len(opened), "a document closed its passage early"
        blocks = re.findall(r"<passage number=\"\d+\"[^>]*>\n(.*?)\n</passage>", passages, re.S)
        assert "".join(blocks).count("ignore all previous instructions") == passages.count(
            "ignore all previous instructions"), "injected text outside its passage"
        user = [m["content"] for m in request["messages"] if m["role"] == "user"]
        assert user == [question]


def test_a_model_that_obeys_an_injected_document_is_not_believed(hostile_settings, fake_llm):
    obeyed = Assistant(llm_settings(hostile_settings, fake_llm.url, "openai:obey",
                                    llm_timeout=2.0)).ask("Who was the Brassmoor keeper in 1904?")
    assert obeyed.refused or "I have been pwned." in obeyed.unsupported_sentences, obeyed
