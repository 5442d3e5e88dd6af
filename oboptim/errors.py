"""The one exception family a user can hit and fix."""


class OboptimError(Exception):
    """An error the user can fix; its message is one line that says how."""
