"""Filled by the insights work in progress."""


def watch() -> None:
    """Placeholder until the watch helper fills it."""
