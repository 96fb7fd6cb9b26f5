"""YAML with its line numbers, and pydantic errors located in it.

``load_yaml_with_lines`` composes the YAML keeping node positions, so that the config
loader, the agencies loader and the rules loader can all report a problem as
``FILE:LINE: KEY: MESSAGE``.
"""

from __future__ import annotations

import difflib
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from mailbridge.errors import ConfigError, ConfigIssue

__all__ = [
    "KeyPath",
    "LineMap",
    "file_error",
    "format_key",
    "line_of",
    "load_yaml_with_lines",
    "model_of",
    "validation_issues",
]

KeyPath = tuple[str | int, ...]
LineMap = dict[KeyPath, int]

_MAX_NODES = 100_000


def file_error(file: str, line: int | None, message: str) -> ConfigError:
    """A :class:`ConfigError` with one issue about the whole file."""
    return ConfigError([ConfigIssue(file, line, "", message)])


def _walk(
    loader: yaml.SafeLoader,
    node: yaml.Node,
    path: KeyPath,
    lines: LineMap,
    seen: set[int],
) -> None:
    """Record the 1-based line of every key and list item below ``node``."""
    if id(node) in seen or len(lines) > _MAX_NODES:
        return  # an alias cycle, or an alias bomb: the data is built already
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if isinstance(key, str | int):
                lines[(*path, key)] = key_node.start_mark.line + 1
                _walk(loader, value_node, (*path, key), lines, seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            _walk(loader, item, (*path, index), lines, seen)
    seen.discard(id(node))


def _duplicate_keys(name: str, node: yaml.Node, seen: set[int]) -> list[ConfigIssue]:
    """Keys given twice in one mapping (YAML would silently keep the last)."""
    if id(node) in seen:
        return []
    seen.add(id(node))
    issues: list[ConfigIssue] = []
    children: list[yaml.Node] = []
    if isinstance(node, yaml.MappingNode):
        first: dict[tuple[str, str], int] = {}
        for key_node, value_node in node.value:
            children.append(value_node)
            if (
                not isinstance(key_node, yaml.ScalarNode)
                or key_node.tag == "tag:yaml.org,2002:merge"
            ):
                continue
            line = key_node.start_mark.line + 1
            where = first.setdefault((key_node.tag, key_node.value), line)
            if where != line:
                issues.append(
                    ConfigIssue(
                        name,
                        line,
                        str(key_node.value),
                        f"key given twice (first at line {where})",
                    )
                )
    elif isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    for child in children:
        issues.extend(_duplicate_keys(name, child, seen))
    return issues


def load_yaml_with_lines(path: Path) -> tuple[Any, LineMap]:
    """The data of a YAML file and a map from key path to the 1-based line it is on.

    The map holds every mapping key and list item: ``("smtp", "listen", 0)``. Raises
    :class:`ConfigError` for an unreadable file, a syntax error or a duplicated key.
    """
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise file_error(name, None, "no such file") from None
    except IsADirectoryError:
        raise file_error(name, None, "is a folder, not a file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise file_error(name, None, f"cannot read the file: {exc}") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        duplicates = _duplicate_keys(name, node, set())
        if duplicates:
            raise ConfigError(duplicates)
        data = loader.construct_document(node)
        lines: LineMap = {}
        _walk(loader, node, (), lines, set())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise file_error(name, line, f"YAML syntax error: {problem}") from None
    except yaml.YAMLError as exc:
        raise file_error(name, None, f"YAML error: {exc}") from None
    finally:
        loader.dispose()
    return data, lines


def format_key(loc: KeyPath) -> str:
    """``("smtp", "listen", 0)`` -> ``smtp.listen[0]``."""
    out = ""
    for part in loc:
        out += (
            f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
        )
    return out


def line_of(lines: LineMap, loc: KeyPath) -> int | None:
    """The line of ``loc``, else of its nearest parent that is in the file."""
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _fields_at(model: type[BaseModel], loc: KeyPath) -> list[str]:
    """The keys the model accepts at ``loc`` (for "did you mean" hints)."""
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None:
            return []
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part)
        current = model_of(field.annotation) if field is not None else None
    return list(current.model_fields) if current is not None else []


def validation_issues(
    file: str,
    error: ValidationError,
    lines: LineMap,
    *,
    prefix: KeyPath = (),
    model: type[BaseModel] | None = None,
) -> list[ConfigIssue]:
    """One :class:`ConfigIssue` per pydantic error, located by ``lines``.

    ``prefix`` is prepended to each error location (a model validated for one list
    item); ``model`` is the validated model, for "did you mean" hints on unknown keys.
    """
    issues = []
    for err in error.errors(include_url=False, include_input=False):
        loc: KeyPath = (*prefix, *(p for p in err["loc"] if isinstance(p, str | int)))
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key"
            if model is not None and isinstance(loc[-1], str):
                close = difflib.get_close_matches(
                    loc[-1], _fields_at(model, loc[len(prefix) : -1]), n=1
                )
                message += f" (did you mean {close[0]!r}?)" if close else ""
        elif err["type"] == "missing":
            message = "required key is missing"
        issues.append(ConfigIssue(file, line_of(lines, loc), format_key(loc), message))
    return issues


def model_of(annotation: Any) -> type[BaseModel] | None:
    """The model in ``M``, ``M | None`` or ``list[M]``, else None."""
    for arg in (annotation, *typing.get_args(annotation)):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None
