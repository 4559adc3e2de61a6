"""The one base class for errors a user can cause.

Every room raises its own typed errors, all derived from :class:`PcosLabError`, so the
CLI and the HTTP edge can turn exactly these into one clear line or a JSON body, while
anything else stays a bug that shows its traceback.
"""


class PcosLabError(Exception):
    """Bad input or a refused operation, with a message meant for the person at the edge."""

    code: str = "error"
