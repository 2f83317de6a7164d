#!/usr/bin/env python
"""Django's command-line utility for Provenant."""

import sys
from pathlib import Path

# platform/ is a source folder, not a package: appending it (never prepending a folder named
# "platform") keeps `import platform` resolving to the standard library.
SOURCE_DIR = Path(__file__).resolve().parent / "platform"
if str(SOURCE_DIR) not in sys.path:
    sys.path.append(str(SOURCE_DIR))


def main() -> None:
    from config.bootstrap import configure

    configure()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
