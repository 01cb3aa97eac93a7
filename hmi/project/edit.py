"""Small, surgical edits of a project file that keep its comments and layout.

PyYAML cannot write a file back as it was; instead the node tree gives the exact character
span of a value, and the edit splices new text there.
"""

from __future__ import annotations

import json
from pathlib import Path

from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from hmi.project.source import SourceError, read_source
from hmi.project.yamlnode import YamlSyntaxError, compose


class EditError(ValueError):
    """The file does not have what the edit needs (e.g. no such user)."""


def set_password_hash(path: Path, user: str, password_hash: str) -> None:
    """Set (or add) ``password_hash`` of ``user`` in the project file at ``path``."""
    try:
        text = read_source(path)  # a regular file of sane size: never blocks on a FIFO
    except SourceError as exc:
        raise EditError(exc.error.message) from None
    path.write_text(with_password_hash(text, user, password_hash, str(path)), encoding="utf-8")


def with_password_hash(text: str, user: str, password_hash: str, file: str = "<project>") -> str:
    """``text`` with the user's ``password_hash`` set; raises :class:`EditError`."""
    try:
        root = compose(text, file)
    except YamlSyntaxError as exc:
        raise EditError(f"cannot edit it: {exc.error}") from None
    mapping = _user_mapping(root, user)
    quoted = json.dumps(password_hash)  # a JSON string is a valid YAML double-quoted scalar
    for key, value in mapping.value:
        if isinstance(key, ScalarNode) and key.value == "password_hash":
            start, end = value.start_mark.index, value.end_mark.index
            return text[:start] + quoted + text[end:]
    if mapping.flow_style:
        end = mapping.end_mark.index - 1  # just before the closing brace
        return text[:end].rstrip() + f", password_hash: {quoted}" + text[end:]
    first_key = mapping.value[0][0]
    indent = " " * first_key.start_mark.column
    last_value = mapping.value[-1][1]
    # Insert after the line holding the end of the mapping's last value.
    line_end = text.find("\n", last_value.end_mark.index - 1)
    if line_end == -1:
        return f"{text}\n{indent}password_hash: {quoted}\n"
    return f"{text[: line_end + 1]}{indent}password_hash: {quoted}\n{text[line_end + 1 :]}"


def _user_mapping(root: object, user: str) -> MappingNode:
    if isinstance(root, MappingNode):
        for key, value in root.value:
            if (
                isinstance(key, ScalarNode)
                and key.value == "users"
                and isinstance(value, SequenceNode)
            ):
                for item in value.value:
                    if isinstance(item, MappingNode) and any(
                        isinstance(k, ScalarNode) and k.value == "name" and v.value == user
                        for k, v in item.value
                    ):
                        return item
    raise EditError(f"no user {user!r} in the users section")
