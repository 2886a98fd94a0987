"""assistant.ui's functions without a browser: rendering, upload names and limits, history parsing, one chat turn."""

from __future__ import annotations

import pytest

from assistant import ui
from assistant.errors import AssistantError
from assistant.history import parse_history
from ingest import uploads
from tests.helpers import answer, chat_reply, line_of, passage, quoting

WITKOFF_LINE = line_of("his envoy, Steve Witkoff")
EVIL = '<img src=x onerror="window.__xss=2">'


# -- rendering --------------------------------------------------------------------------------------------------
def test_answer_markers_link_to_their_sources_and_text_is_escaped():
    p = passage("First line.\nThe bridge is violet.\nLast line.", 100, 7)
    c = quoting(p, "The bridge is violet.")
    html = ui.render_answer(answer(f"The bridge is violet {EVIL} [1]. Not a source [7].\nNext", [p], [c]), turn=3)
    assert '<a class="cite verified" href="#source-3-1"' in html
    assert "[7]" in html and "#source-3-7" not in html  # only real citations become links
    assert "<img" not in html and "&lt;img src=x onerror=&quot;window.__xss=2&quot;&gt;" in html
    assert "<br>Next" in html


def test_flagged_citation_is_marked_in_answer_and_panel():
    p = passage("The bridge is violet.", 100, 7)
    c = quoting(p, "The bridge is violet.", supported=False)
    a = answer("The bridge is violet [1].", [p], [c])
    assert 'class="cite flagged"' in ui.render_answer(a, 1) and "Not verified" in ui.render_answer(a, 1)
    card = ui.render_sources(a, 1)
    assert "badge flagged" in card and "badge verified" not in card


def test_sources_panel_highlights_the_quote_inside_its_passage():
    text = "Intro line.\nBefore <b>x</b>.\nThe plant is large <script>window.__xss=1</script>.\nAfter.\nEnd."
    p = passage(text, 100, 10)
    quote = "The plant is large <script>window.__xss=1</script>."
    c = quoting(p, quote)
    html = ui.render_sources(answer("x [1]", [p], [c], question=f"what {EVIL}?"), turn=2)
    assert 'id="source-2-1"' in html and "a.txt" in html and "line 12" in html and "badge verified" in html
    assert "<mark>The plant is large &lt;script&gt;window.__xss=1&lt;/script&gt;.</mark>" in html
    assert "Before &lt;b&gt;x&lt;/b&gt;." in html  # context lines around the quote, escaped
    assert "<script" not in html and "<img" not in html and "<b>" not in html


@pytest.mark.parametrize("given, expected", [
    ("notes.txt", "notes.txt"),
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\me\\report.PDF", "report.pdf"),
    ("a\x00b\x07c.md", "a_b_c.md"),
    ("..", "upload"),
    ("", "upload"),
    ("...hidden.txt", "hidden.txt"),
    ('we<ird>:"na|me?.txt', "we_ird_na_me.txt"),
    ("\ud800x\udfff.txt", "x.txt"),  # lone surrogates (JSON can carry them) cannot be encoded as a file name
])
def test_upload_names_are_sanitised(given, expected):
    assert uploads.safe_name(given) == expected


def test_upload_names_are_bounded_and_keep_their_suffix():
    name = uploads.safe_name("ü" * 300 + ".docx")
    assert name.endswith(".docx") and len(name.encode()) <= uploads.MAX_NAME_BYTES


def test_uploads_land_in_the_upload_folder_only(tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("hello")
    folder = tmp_path / "uploads"
    for name in ("../../escape.txt", "/etc/cron.d/x.txt", "sub/dir/y.txt", "a\x00.txt",
                 "../" * 100 + "z" * 5000 + ".md",
                 "..\\..\\win.txt", "\ud800.txt"):
        target = uploads.save_upload(source, folder, name)
        assert target.parent == folder.resolve() and target.read_text() == "hello"
        assert len(target.name.encode()) <= uploads.MAX_NAME_BYTES
    assert not (tmp_path / "escape.txt").exists()


def test_api_history_accepts_pairs_messages_and_json():
    pairs = [("q1", "a1"), ("q2", "a2")]
    assert parse_history(None) == [] and parse_history("") == []
    assert parse_history([["q1", "a1"], ["q2", "a2"]]) == pairs
    assert parse_history('[["q1", "a1"], ["q2", "a2"]]') == pairs
    messages = [{"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1"},
                {"role": "user", "content": "q2"}, {"role": "assistant", "content": "a2"}]
    assert parse_history(messages) == pairs
    for bad in ("{not json", '{"a": 1}', [1, 2, 3]):
        with pytest.raises(AssistantError, match="history"):
            parse_history(bad)


def test_page_settings_errors_are_one_line(settings):
    assert ui.page_settings(settings, "llm", " openai:x ", 7, " other-docs ").k == 7
    with pytest.raises(AssistantError, match=r"^collection: "):
        ui.page_settings(settings, collection="x")


# -- one chat turn, on the real chain -----------------------------------------------------------------------------
def test_chat_turn_answers_and_keeps_history_in_the_session(sample_settings):
    session = ui.new_session()
    turns = list(ui.respond(sample_settings, "Who did Trump send to Moscow?", session))
    _, messages, sources, after = turns[-1]
    assert session == ui.new_session()  # the input session is not mutated: each browser session owns its copy
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert "Witkoff" in messages[-1]["content"] and 'href="#source-1-1"' in messages[-1]["content"]
    assert after["history"][0][0] == "Who did Trump send to Moscow?" and len(after["sources"]) == 1
    assert "peace-talks.txt" in sources and f"line {WITKOFF_LINE}" in sources
    follow = list(ui.respond(sample_settings, "What did Witkoff tell CNN?", after))[-1][3]
    assert len(follow["history"]) == 2 and 'id="source-2-1"' in ui.sources_panel(follow)


def test_chat_errors_are_readable_lines_in_the_chat(settings, sample_settings):
    empty = list(ui.respond(settings, "Who did Trump send to Moscow?", None))
    assert "has no documents" in chat_reply(empty) and "chat-error" in chat_reply(empty)
    bad_model = list(ui.respond(sample_settings, "Who did Trump send to Moscow?", None, mode="llm",
                                llm="llamacpp:/nonexistent/model.gguf"))
    assert "no GGUF file" in chat_reply(bad_model)
    bad_setting = list(ui.respond(sample_settings, "Who?", None, collection="x"))
    assert "collection:" in chat_reply(bad_setting)
    for turns in (empty, bad_model, bad_setting):
        assert "Traceback" not in chat_reply(turns) and turns[-1][3]["history"] == []


def test_uploads_are_ingested_and_failures_listed(settings, tmp_path):
    good, empty = tmp_path / "good notes.txt", tmp_path / "empty.txt"
    good.write_text("The Quillfeather Observatory was founded in 1893 by Marisol Ventrano.\n")
    empty.write_text("")
    steps = []
    status, session = ui.ingest_uploads(settings, [str(good), str(empty)], None,
                                        progress=lambda *a, **k: steps.append(a))
    assert "1 added, 1 failed" in status and "✓ good notes.txt" in status and "✗ empty.txt: empty" in status
    assert str(tmp_path) not in status and str(settings.upload_dir) not in status
    assert sorted(p.name for p in settings.upload_dir.iterdir()) == ["good notes.txt"]  # the failed file is not kept
    assert steps and "Could not add empty.txt" in session["messages"][-1]["content"]
