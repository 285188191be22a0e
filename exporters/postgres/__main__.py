import sys

from exporters.postgres.main import main

sys.exit(main())
