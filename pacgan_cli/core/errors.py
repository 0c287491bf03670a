"""Errors a user can fix. Each message says what is wrong and what to do about it."""

from __future__ import annotations


class PacganError(Exception):
    """A failure the user can fix; the command line prints the message alone and exits with `exit_code`."""

    exit_code = 1


class InputError(PacganError):
    """A data file, folder or checkpoint is missing or malformed."""


class ConfigError(PacganError):
    """A configuration value or a command-line option is invalid."""

    exit_code = 2


class OutputExistsError(PacganError):
    """Writing would overwrite earlier results."""
