"""The one error the cluster scripts raise for a problem a person must fix."""


class ClusterError(Exception):
    """A bad environment or a failed start: printed as one line, never as a stack trace."""
