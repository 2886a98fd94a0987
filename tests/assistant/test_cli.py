"""The `assistant` command: one-line errors and exit codes, ask's output, chat's checks.

`ask` ends its process at once on success (os._exit), so successful asks run as their own process (run_cli); failures
and the other commands run in-process through typer's CliRunner."""

import json
import re

import pytest
from typer.testing import CliRunner

from assistant import Answer, ui
from assistant.answer import REFUSAL
from assistant.cli import app
from tests.helpers import MARKERS, SAMPLE, WITKOFF_Q, line_of, one_line, run_cli, sentences, store_flags


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


# -- one-line errors (flags over the environment and bad flags: tests/assistant/test_settings.py) ---------------

def test_a_bad_environment_value_is_one_line_naming_the_field(monkeypatch):
    monkeypatch.setenv("ASSISTANT_K", "many")
    result = invoke("docs")
    assert result.exit_code == 2 and one_line(result.output.strip()).startswith("error: k: ")


def test_ask_on_an_empty_collection_exits_1_with_one_line(settings):
    result = invoke("ask", WITKOFF_Q, *store_flags(settings))
    assert result.exit_code == 1 and one_line(result.output.strip()).startswith("error: ")
    assert "no documents" in result.output


# -- the CLI ----------------------------------------------------------------------------------------------------

def test_cli_ask_prints_the_answer_then_path_line_sources(sample_settings):
    result = run_cli("ask", WITKOFF_Q, *store_flags(sample_settings))
    assert result.returncode == 0, result.stderr
    answer_part, _, sources = result.stdout.partition("\nSources:\n")
    witkoff = next(s for s in sentences(answer_part) if "Steve Witkoff" in s)
    number = MARKERS.search(witkoff).group(1)
    line = line_of("his envoy, Steve Witkoff")
    entry = re.search(rf"^\[{number}\] {re.escape(str(SAMPLE))}, line {line}\n +\"(.+)\"$", sources, re.M)
    assert entry, result.stdout
    assert "Steve Witkoff, had met with Putin in Moscow" in entry.group(1)


def test_cli_ask_json_prints_the_answer_object(sample_settings):
    result = run_cli("ask", WITKOFF_Q, "--json", "--k", "3", *store_flags(sample_settings))
    assert result.returncode == 0, result.stderr
    answer = Answer.model_validate(json.loads(result.stdout))
    assert answer.question == WITKOFF_Q and "Steve Witkoff" in answer.text and len(answer.passages) == 3
    line = line_of("his envoy, Steve Witkoff")
    assert any(c.line_start == line and c.source == str(SAMPLE) for c in answer.citations)


def test_cli_ask_refuses_what_the_documents_do_not_say(sample_settings):
    result = run_cli("ask", "What is the population of Kyiv?", *store_flags(sample_settings))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == REFUSAL


def test_cli_ask_empty_question_is_a_one_line_error(sample_settings):
    result = run_cli("ask", "  ", *store_flags(sample_settings))
    assert result.returncode != 0 and result.stdout == ""
    assert result.stderr.strip().splitlines()[-1].startswith("error: question: empty")
    assert "Traceback" not in result.stderr


# -- chat ----------------------------------------------------------------------------------------------
@pytest.fixture
def launched(monkeypatch):
    calls = []
    monkeypatch.setattr(ui, "launch", lambda settings, **kw: calls.append((settings, kw)))
    return calls


def test_chat_command_warns_when_serving_an_open_address_without_auth(launched):
    result = CliRunner().invoke(app, ["chat", "--host", "0.0.0.0", "--port", "7999", "--collection", "abc-docs"])
    assert result.exit_code == 0 and "warning: serving 0.0.0.0 without --auth" in result.output
    settings, options = launched[0]
    assert settings.collection == "abc-docs" and options["host"] == "0.0.0.0" and options["port"] == 7999
    assert options["auth"] is None
    for quiet in (["--host", "0.0.0.0", "--no-auth"], ["--host", "0.0.0.0", "--auth", "me:secret:x"],
                  ["--host", "127.0.0.1"], ["--host", "localhost"], ["--host", "::1"], []):
        result = CliRunner().invoke(app, ["chat", *quiet])
        assert result.exit_code == 0 and "warning" not in result.output, quiet
    assert launched[2][1]["auth"] == ("me", "secret:x")
    assert launched[-1][1]["host"] == "127.0.0.1", "the default is loopback only"


def test_chat_command_rejects_malformed_auth(launched):
    for bad in (["--auth", "nopassword"], ["--auth", ":pw"], ["--auth", "a:b", "--no-auth"]):
        result = CliRunner().invoke(app, ["chat", *bad])
        assert result.exit_code == 2 and "--auth" in result.output
    assert launched == []
