import os
import sys

from .cli.main import main

if __name__ == "__main__":  # not when a spawned worker re-imports the main module
    code = main()
    if sys.argv[1:2] in (["check"], ["grade"]):
        # Everything is written and every process and temporary directory is gone by now; what is
        # left is the interpreter's own shutdown, which with torch loaded takes a third of a second.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
