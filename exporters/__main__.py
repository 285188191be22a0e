from exporters.cli import run

run()
