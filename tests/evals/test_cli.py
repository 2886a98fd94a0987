"""`assistant eval` parses its gates and exits 1 when one fails, 2 on a bad flag."""

import typer
from typer.testing import CliRunner

from tests.evals.data import fake_report


def test_eval_command_gates(tmp_path, monkeypatch):
    from assistant.cli.evaluation import eval_command

    monkeypatch.setattr("evals.harness.run_eval", lambda *args, **kwargs: fake_report())
    app = typer.Typer()
    app.command()(eval_command)
    run = lambda *args: CliRunner().invoke(app, ["--out", str(tmp_path), *args])  # noqa: E731

    bad = run("--fail-under", "answer.contains")
    assert bad.exit_code == 2 and "expected METRIC=VALUE" in bad.output
    unknown = run("--fail-under", "answer.contain=0.5")
    assert unknown.exit_code == 2 and "unknown metric 'answer.contain'" in unknown.output
    passing = run("--fail-under", "answer.contains=0.9", "--fail-under", "latency.total.p95=5")
    assert passing.exit_code == 0, passing.output
    assert "answer.contains" in passing.output and (tmp_path / "report.html").is_file()
    failing = run("--fail-under", "answer.contains=0.9", "--fail-under", "refusal.recall=0.9",
                  "--fail-under", "latency.total.p95=0.5", "--compare", str(tmp_path / "report.json"))
    assert failing.exit_code == 1
    assert "FAIL refusal.recall = 0 < 0.9" in failing.output and "FAIL latency.total.p95 = 1 > 0.5" in failing.output
    assert "FAIL answer.contains" not in failing.output
    assert run("--split", "train").exit_code == 2
    mixed = run("--suite", "--fail-under", "answer.contains=0.9")
    assert mixed.exit_code == 2 and "--suite prints one table" in mixed.output


def test_every_entry_point_is_a_command_with_help():
    """One `assistant` command: each entry point is a command or a bench subcommand; its --help says what it does."""
    from assistant.cli import app

    commands = {
        (): ["ingest", "ask", "chat", "serve", "mcp", "docs", "eval", "bench", "calibrate", "claims", "train-reader"],
        ("bench",): ["load", "steady", "listing", "tokens", "reader-latency", "proc"],
        ("bench", "proc"): ["memory", "answer"],
        ("docs",): ["remove"],
    }
    for group, names in commands.items():
        listing = CliRunner().invoke(app, [*group, "--help"])
        assert listing.exit_code == 0, listing.output
        for name in names:
            assert name in listing.output, (group, name)
            result = CliRunner().invoke(app, [*group, name, "--help"])
            assert result.exit_code == 0 and "Usage:" in result.output, (group, name, result.output)
            assert len(result.output.split("Usage:")[1].splitlines()[2].strip()) > 20, (group, name)  # a summary


def test_calibrate_command_refuses_test_data():
    from assistant.cli import app

    result = CliRunner().invoke(app, ["calibrate", "--split", "test"])
    assert result.exit_code != 0 and "dev data only" in result.output
