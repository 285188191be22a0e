import sys

from exporters.cli import exit_process, main

exit_process(main(["postgres", *sys.argv[1:]]))
