"""The one exception type the CLI reports as a single line instead of a traceback."""


class UsageError(Exception):
    """Something the user asked for cannot be done as asked: a bad value, a missing
    input, an unprepared dataset. The message names the problem and the fix."""
