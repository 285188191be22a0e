import gc

# The start (imports, the command line, the collectors) makes few reference cycles: pause the
# cyclic GC (some 35 collections) until the app is built (exporters.node.main), after which the
# server freezes what the start built.
gc.disable()

from exporters.cli import exit_process  # noqa: E402 - after gc.disable()
from exporters.node.main import main  # noqa: E402

exit_process(main())
