import sys

from exporters.redis.main import main

sys.exit(main())
