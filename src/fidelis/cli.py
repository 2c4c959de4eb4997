"""The `fidelis` console script: Django's manage.py with Fidelis settings."""

import os
import sys


def main() -> None:
    """Run a management command with the Fidelis settings."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fidelis.config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
