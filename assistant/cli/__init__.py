"""The `assistant` command: ingest, ask, docs, chat, serve, mcp here; eval, calibrate, claims, train-reader and the
bench family in the modules beside this one. Thin: every command calls the Python API or an evals function."""

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from assistant.cli.bench import bench_app
from assistant.cli.console import ANSWERING, SERVING, STORE, fail, with_settings
from assistant.cli.evaluation import calibrate_command, claims_command, eval_command, train_reader_command
from assistant.errors import AssistantError, UnknownDocument
from assistant.settings import Settings, display_host, is_loopback
from assistant.types import DocumentInfo

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="A chat assistant grounded in your documents, with verified citations.")

Host = Annotated[str, typer.Option(help="Address to listen on; 0.0.0.0 serves every interface.")]
Port = Annotated[int, typer.Option(help="Port to listen on.")]


@app.command()
@with_settings(STORE)
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (folders recurse).")],
    glob: Annotated[Optional[str], typer.Option(help="Only file names matching this pattern, e.g. '*.md'.")] = None,
    prune: Annotated[bool, typer.Option(help="Remove chunks of files that no longer exist.")] = False,
    *, settings: Settings,
):
    """Load, chunk and embed documents into the store (incremental: unchanged files cost nothing)."""
    from ingest import ingest_paths

    try:
        report = ingest_paths(paths, settings, glob=glob, prune=prune, progress=sys.stderr.isatty(),
                              on_message=lambda line: typer.echo(line, err=True))
    except AssistantError as exc:
        fail(str(exc))
    typer.echo(report.summary())
    if report.failed:
        raise typer.Exit(1)


@app.command()
@with_settings(ANSWERING, STORE)
def ask(
    question: Annotated[str, typer.Argument(help="Your question.")],
    source: Annotated[Optional[list[str]], typer.Option(
        "--source", help="Answer only from this document (repeat for several; see `assistant docs`).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the Answer object as JSON.")] = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the answer and its sources as Markdown.")] = False,
    *, settings: Settings,
):
    """Answer one question from the documents, with numbered, verified sources."""
    from assistant.api import Assistant

    try:
        bot = Assistant(settings)
        answer = bot.ask(question, sources=[bot.resolve(path) for path in source or ()])
    except AssistantError as exc:
        fail(str(exc), 1)
    if as_json:
        typer.echo(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False))
    elif markdown:
        typer.echo(answer.to_markdown(), nl=False)
    else:
        typer.echo(answer.text)
        if answer.citations:
            typer.echo("\nSources:\n" + answer.sources_text())
    _exit_now()


def _exit_now() -> None:
    """End a one-shot read-only command without the interpreter's module teardown, which takes seconds after
    chromadb and onnxruntime (measured: 2.3 s of a cold `ask`); exit handlers still run and output is flushed."""
    import atexit
    import os

    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


docs_app = typer.Typer(help="List the documents in the collection (`assistant docs`), or remove some.")
app.add_typer(docs_app, name="docs")


@docs_app.callback(invoke_without_command=True)
@with_settings(STORE)
def docs(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the documents as a JSON list.")] = False,
    *, settings: Settings,
):
    """List the documents in the collection: format, pages, chunks, characters, when ingested."""
    if ctx.invoked_subcommand is not None:
        return
    from assistant.api import Assistant

    try:
        documents = Assistant(settings).documents()
    except AssistantError as exc:
        fail(str(exc), 1)
    if as_json:
        typer.echo(json.dumps([d.to_dict() for d in documents], indent=2, ensure_ascii=False))
    elif not documents:
        typer.echo(f"collection '{settings.collection}' has no documents: add some with `assistant ingest PATH`")
    else:
        typer.echo(documents_table(documents))


@docs_app.command("remove")
@with_settings(STORE)
def docs_remove(
    paths: Annotated[list[str], typer.Argument(help="Documents to remove, as `assistant docs` lists them.")],
    *, settings: Settings,
):
    """Remove documents from the collection (all of a document's chunks at once), and the copies uploads made."""
    from assistant.api import Assistant

    unknown = 0
    try:
        bot = Assistant(settings)
        for path in paths:
            try:
                chunks = bot.remove(path)
            except UnknownDocument as exc:  # the others are still removed
                typer.echo(f"error: {exc}", err=True)
                unknown += 1
                continue
            typer.echo(f"removed {path} ({chunks} chunk{'s' if chunks != 1 else ''})")
    except AssistantError as exc:
        fail(str(exc), 1)
    if unknown:
        raise typer.Exit(1)


def documents_table(documents: list[DocumentInfo]) -> str:
    """Aligned columns, one document a line; '-' where a document predates a field."""
    header = ("SOURCE", "FORMAT", "PAGES", "CHUNKS", "CHARACTERS", "INGESTED (UTC)")
    rows = [header] + [
        (d.source, d.format or "-", _or_dash(d.pages), _or_dash(d.chunks), _or_dash(d.characters),
         d.ingested_at.strftime("%Y-%m-%d %H:%M") if d.ingested_at else "-") for d in documents]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    numeric = (2, 3, 4)
    return "\n".join("  ".join(cell.rjust(w) if i in numeric else cell.ljust(w)
                               for i, (cell, w) in enumerate(zip(row, widths))).rstrip() for row in rows)


def _or_dash(value: int | None) -> str:
    return "-" if value is None else str(value)


@app.command()
@with_settings(STORE, ANSWERING, SERVING)
def chat(
    host: Host = "127.0.0.1",
    port: Port = 7860,
    auth: Annotated[Optional[str], typer.Option("--auth", envvar="ASSISTANT_CHAT_AUTH",
                                                help="user:password asked for before the page opens.")] = None,
    no_auth: Annotated[bool, typer.Option("--no-auth",
                                          help="Serve a non-loopback address without a password, on purpose.")] = False,
    *, settings: Settings,
):
    """Open the chat page: ask questions, see the cited passages, upload documents (ingests the sample if empty).
    The OpenAI-compatible endpoint is served beside it, under /v1."""
    from assistant.openai_api import router
    from assistant.ui import launch

    credentials = None
    if auth is not None:
        user, _, password = auth.partition(":")
        if not user or not password:
            fail("--auth: expected user:password")
        if no_auth:
            fail("--auth and --no-auth: give one of them")
        credentials = (user, password)
    if not is_loopback(host) and credentials is None and not no_auth:
        typer.echo(f"warning: serving {host} without --auth: anyone who can reach port {port} can read and upload "
                   "documents. Pass --auth user:password, or --no-auth if that is intended.", err=True)
    routers = [router(settings)]
    if credentials is not None and settings.api_key is None:  # the page's password does not cover /v1
        typer.echo("note: /v1 (the OpenAI-compatible endpoint) is not served: with --auth it needs --api-key too",
                   err=True)
        routers = []
    try:
        launch(settings, host=host, port=port, auth=credentials, on_message=lambda line: typer.echo(line, err=True),
               routers=routers)
    except AssistantError as exc:
        fail(str(exc), 1)
    except OSError as exc:  # the port is taken, or the address is not this machine's
        fail(_listen_error(host, port, exc), 1)


def _listen_error(host: str, port: int, exc: OSError) -> str:
    return f"--host {host} --port {port}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"


@app.command()
@with_settings(STORE, ANSWERING, SERVING)
def serve(
    host: Host = "127.0.0.1",
    port: Port = 8000,
    *, settings: Settings,
):
    """Serve the OpenAI-compatible endpoint (/v1/models, /v1/chat/completions) for chat front ends and clients
    (ingests the sample if the collection is empty)."""
    import socket

    import uvicorn

    from assistant.api import Assistant
    from assistant.openai_api import serve_app
    from ingest.sample import ensure_sample

    if not is_loopback(host) and settings.api_key is None:
        typer.echo(f"warning: serving {host} without --api-key: anyone who can reach port {port} can ask about the "
                   "documents.", err=True)
    try:
        # Bound here, before anything loads, so a taken port is one line and not uvicorn's log and exit code.
        listening = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind((host.strip("[]"), port))
    except OSError as exc:
        fail(_listen_error(host, port, exc), 1)
    try:
        ensure_sample(settings, lambda line: typer.echo(line, err=True))
        Assistant(settings).warm_up()
        server = uvicorn.Server(uvicorn.Config(serve_app(settings), log_level="warning"))
        typer.echo(f"OpenAI-compatible endpoint on http://{display_host(host)}:{port}/v1 "
                   f"(model: grounded-assistant/{settings.collection})", err=True)
        server.run(sockets=[listening])
    except AssistantError as exc:
        fail(str(exc), 1)


@app.command()
@with_settings(STORE, ANSWERING)
def mcp(
    http: Annotated[bool, typer.Option(
        "--http", help="Serve streamable HTTP at http://HOST:PORT/mcp instead of stdio.")] = False,
    host: Host = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on with --http.")] = 8765,
    *, settings: Settings,
):
    """Serve the documents to an MCP host (Claude Desktop, IDE assistants, agents): tools search, ask,
    list_documents."""
    from assistant.mcp_server import run

    if http and not is_loopback(host):
        typer.echo(f"warning: serving {host}: the MCP endpoint has no authentication.", err=True)
    try:
        run(settings, http=http, host=host, port=port)
    except AssistantError as exc:
        fail(str(exc), 1)
    except OSError as exc:
        fail(_listen_error(host, port, exc), 1)


app.command("eval")(eval_command)
app.command("calibrate")(calibrate_command)
app.command("claims")(claims_command)
app.command("train-reader")(train_reader_command)
app.add_typer(bench_app, name="bench")  # the commands import evals only when they run: start-up stays quick
