from exporters.cli import exit_process
from exporters.node.main import main

exit_process(main())
