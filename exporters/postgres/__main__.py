from exporters.cli import exit_process
from exporters.postgres.main import main

exit_process(main())
