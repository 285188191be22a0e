from exporters.cli import exit_process
from exporters.redis.main import main

exit_process(main())
