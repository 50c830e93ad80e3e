"""User-facing errors: the CLI prints them as one line and exits non-zero (no traceback)."""


class GskillError(Exception):
    """Bad input or a missing prerequisite the user can fix. The message is the whole story."""

    exit_code = 2
