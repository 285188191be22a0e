import sys

from exporters.node.main import main

sys.exit(main())
