"""The page's HTML: pure functions from answers, citations and listings to escaped HTML, nothing else.

Everything shown comes from documents or users, so it is shown as text: every string put into HTML is escaped
here, and Gradio's sanitizer still runs on top."""

from __future__ import annotations

import html
import re

from assistant.types import CITATION_MARKER, Answer, Citation, DocumentPage, Passage, file_name, where

_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")


def esc(text: object) -> str:
    """Text as HTML text; bidi overrides and isolates are dropped, so a document cannot make the page show its
    words in another order than they are stored, quoted and cited in ("Trojan Source")."""
    return html.escape(_BIDI.sub("", str(text)), quote=True)


def source_id(turn: int, number: int) -> str:
    return f"source-{turn}-{number}"


def render_text(text: str) -> str:
    """Plain text as HTML: escaped, line breaks kept."""
    return esc(text).replace("\n", "<br>")


def note(text: str) -> str:
    """A status line, escaped."""
    return f'<span class="chat-note">{esc(text)}</span>'


def error_html(message: str) -> str:
    return f'<span class="chat-error">⚠ {esc(message)}</span>'


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def render_answer(answer: Answer, turn: int) -> str:
    """The answer as escaped text whose [n] markers link to their entries in the sources panel."""
    cited = {c.number: c for c in answer.citations}

    def link(match: re.Match) -> str:
        marker, links = match.group(0), []
        for number in match.group(1).split(","):
            c = cited.get(int(number))
            if c is None:
                return marker
            state = "verified" if c.supported else "flagged"
            links.append(f'<a class="cite {state}" href="#{source_id(turn, c.number)}" '
                         f'title="{esc(file_name(c.source))}, {esc(where(c))} ({state})">[{c.number}]</a>')
        return marker[:marker.index("[")] + " ".join(links)  # the space before the marker stays

    body = CITATION_MARKER.sub(link, render_text(answer.text))
    flagged = [c.number for c in answer.citations if not c.supported]
    if flagged:
        body += (f'<br><span class="chat-note">⚠ Not verified: the passage{"s" if len(flagged) > 1 else ""} cited as '
                 f'{", ".join(f"[{n}]" for n in flagged)} may not support the sentence.</span>')
    return body


def highlight(text: str, a: int, b: int, lines_around: int | None = 1, max_chars: int = 400) -> str:
    """Escaped text around [a, b) with the span marked; `lines_around=None` keeps the whole text."""
    s, e = 0, len(text)
    if lines_around is not None:
        s = text.rfind("\n", 0, a) + 1
        for _ in range(lines_around):
            if s == 0:
                break
            s = text.rfind("\n", 0, s - 1) + 1
        e = text.find("\n", b)
        e = len(text) if e < 0 else e
        for _ in range(lines_around):
            if e >= len(text):
                break
            following = text.find("\n", e + 1)
            e = len(text) if following < 0 else following
        s, e = max(s, a - max_chars), min(e, b + max_chars)
    return ("…" if s > 0 else "") + esc(text[s:a]) + "<mark>" + esc(text[a:b]) + "</mark>" + esc(text[b:e]) + \
        ("…" if e < len(text) else "")


def render_citation(c: Citation, passages: list[Passage], turn: int) -> str:
    span = c.span_in(passages)
    badge = ('<span class="badge verified" title="The quoted passage supports the sentence citing it">'
             '✓ verified</span>' if c.supported else
             '<span class="badge flagged" title="The quoted passage may not support the sentence citing it">'
             '⚠ flagged</span>')
    head = (f'<div class="src-head"><span class="src-num">[{c.number}]</span>'
            f'<span class="src-file">{esc(file_name(c.source))}</span>'
            f'<span class="src-where">{esc(where(c))}</span>{badge}</div>')
    if span is None:
        body = f'<div class="passage"><mark>{esc(c.quote)}</mark></div>'
    else:
        passage, a, b = span
        lines = (f"line {passage.line_start}" if passage.line_start == passage.line_end
                 else f"lines {passage.line_start}–{passage.line_end}")
        body = (f'<div class="passage">{highlight(passage.text, a, b)}</div>'
                f'<details><summary>Whole passage ({esc(lines)})</summary>'
                f'<div class="passage">{highlight(passage.text, a, b, None)}</div></details>')
    return f'<div class="src-card" id="{source_id(turn, c.number)}">{head}{body}</div>'


def render_sources(answer: Answer, turn: int) -> str:
    if not answer.citations:
        cards = '<p class="src-empty">No sources: the documents do not answer this.</p>'
    else:
        cards = "".join(render_citation(c, answer.passages, turn) for c in answer.citations)
    return f'<section class="src-turn" data-turn="{turn}"><h4>{esc(answer.question)}</h4>{cards}</section>'


def sources_panel(session: dict) -> str:
    turns = session["sources"]
    if not turns:
        return '<p class="src-empty">The passages each answer cites appear here, newest first.</p>'
    return "".join(reversed(turns))


def render_documents(listing: DocumentPage, collection: str, scope: list[str]) -> str:
    """The listing as an escaped HTML table; documents the questions are scoped to are marked."""
    if not listing.total:
        return f'<p class="src-empty">No documents to show in collection <b>{esc(collection)}</b>.</p>'
    rows = []
    for d in listing.documents:
        ingested = d.ingested_at.strftime("%Y-%m-%d %H:%M") if d.ingested_at else "–"
        cells = [f'<td class="doc-name">{esc(d.name)}</td>', f"<td>{esc(d.title)}</td>",
                 f"<td>{esc(d.format or '–')}</td>"]
        cells += [f'<td class="num">{"–" if n is None else n}</td>' for n in (d.pages, d.chunks, d.characters)]
        cells.append(f"<td>{ingested}</td>")
        rows.append(f'<tr class="{"in-scope" if d.source in scope else ""}">{"".join(cells)}</tr>')
    head = ('<tr><th>Name</th><th>Title</th><th>Format</th><th class="num">Pages</th><th class="num">Chunks</th>'
            '<th class="num">Characters</th><th>Ingested (UTC)</th></tr>')
    return (f'<div class="doc-count">{plural(listing.total, "document")} in '
            f'<b>{esc(collection)}</b>, page {listing.page} of {listing.pages}</div>'
            f'<table class="doc-table"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>')


def scope_text(scope: list[str]) -> str:
    names = ", ".join(file_name(s) for s in scope)
    return f"Answering only from {plural(len(scope), 'document')}: {esc(names)}"
