"""Configuration errors that name the file, the line and the field."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ConfigError:
    """One problem in a project file: where it is, which field, and what was expected."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


class FileErrors(ValueError):
    """A file that could not be loaded; ``errors`` lists every problem found, in order.

    Subclasses name the kind of file (:attr:`what`) for the heading of the message.
    """

    what = "file"

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = sorted(errors, key=lambda e: (e.file, e.line, e.field))
        count = len(self.errors)
        head = f"{count} error{'s' if count != 1 else ''} in {self.what}"
        super().__init__("\n".join([head, *map(str, self.errors)]))


class ProjectError(FileErrors):
    """A project file could not be loaded; ``errors`` lists every problem found."""

    what = "project file"
