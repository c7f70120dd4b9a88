#!/usr/bin/env python
"""Django's command-line utility for the Protectors' Portal."""

import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    from config.env import ConfigError

    try:
        execute_from_command_line(sys.argv)
    except ConfigError as error:
        # A bad environment is the operator's to fix: say which variable, not where Python was.
        print(f"configuration error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
