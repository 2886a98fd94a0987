import typer

from evals.bench.run import bench_command

typer.run(bench_command)
