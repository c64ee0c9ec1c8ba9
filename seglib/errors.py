"""Exceptions raised by seglib. Every message names the file or setting at fault."""


class SeglibError(Exception):
    """Base class of every error seglib raises on purpose."""


class DataError(SeglibError, ValueError):
    """A data source is missing, unreadable or inconsistent (the message names the file)."""


class WeightsError(SeglibError, ValueError):
    """Encoder weights could not be found, downloaded or loaded."""
