import sys

from exporters.cli import exit_process, main

exit_process(main(["redis", *sys.argv[1:]]))
