"""Reading settings input strictly: the YAML file and the ``NETVIGIL_*`` environment.

PyYAML and pydantic-settings accept what NetVigil must refuse, or refuse it with a traceback:
a key given twice (the last silently wins), a file that is not UTF-8 or nests thousands of
levels deep (``UnicodeDecodeError``, ``RecursionError``), a variable that names no setting
(ignored), a list given as plain text (``SettingsError`` naming only the section). Each of
these is a :class:`~netvigil.errors.ConfigError` here, one line naming the file position or
the variable, and the fix.
"""

from __future__ import annotations

import difflib
import json
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from netvigil.errors import ConfigError

__all__ = ["environment_problems", "read_file", "too_deep"]


def _model(annotation: Any) -> type[BaseModel]:
    assert isinstance(annotation, type) and issubclass(annotation, BaseModel)
    return annotation


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping (PyYAML keeps the last
    silently, so a stale line further down would win unseen)."""


def _no_duplicate_keys(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            first = seen.setdefault(key, key_node.start_mark.line + 1)
        except TypeError:  # an unhashable key: construct_mapping reports it
            continue
        if first != key_node.start_mark.line + 1:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"key {key!r} is given twice (lines {first} and {key_node.start_mark.line + 1}); "
                "keep one",
                key_node.start_mark,
            )
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicate_keys)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """One line: where and what (PyYAML's own text spans several lines)."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        what = exc.problem or exc.context or "invalid"
        return f"line {mark.line + 1}, column {mark.column + 1}: {what}"
    return " ".join(str(exc).split())


def read_file(path: str) -> dict[str, Any]:
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist; check --config") from None
    except OSError as exc:
        raise ConfigError(
            f"config file {path} cannot be read ({exc.strerror}); check --config"
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {path} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
            f"{exc.start}); save it as UTF-8"
        ) from None
    try:
        loaded = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {_yaml_problem(exc)}") from None
    except RecursionError:
        raise ConfigError(too_deep(f"config file {path}")) from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(
            f"config file {path} must be a mapping of sections (bus:, twin:, ...), "
            f"not {type(loaded).__name__}"
        )
    return loaded


def too_deep(source: str) -> str:
    return (
        f"{source} nests far deeper than any setting (sections hold values, lists and small "
        "mappings); check its brackets and indentation"
    )


def _is_complex(annotation: Any) -> str | None:
    """'a list', 'a mapping' or 'an object' for settings the environment must give as JSON."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        kinds = [_is_complex(a) for a in typing.get_args(annotation)]
        return next((k for k in kinds if k), None)
    if origin in (list, tuple, set):
        return "a list"
    if origin is dict:
        return "a mapping"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "an object"
    return None


_EXAMPLE = {"a list": '\'["a", "b"]\'', "a mapping": '\'{"k": "v"}\'', "an object": "'{...}'"}


def _suggest(word: str, choices: list[str]) -> str:
    near = difflib.get_close_matches(word, choices, n=1)
    return f"did you mean {near[0]}? " if near else ""


def environment_problems(
    environ: Mapping[str, str], settings: type[BaseModel], prefix: str
) -> list[str]:
    """Names under ``prefix`` that name no section or setting of ``settings`` (with the
    nearest real name), and values that cannot be the JSON a list, mapping or whole section
    needs (pydantic-settings would raise a bare SettingsError naming neither)."""
    models = {name: _model(f.annotation) for name, f in settings.model_fields.items()}
    sections = {name.upper(): name for name in models}

    def _known(section: str) -> list[str]:
        return sorted(models[section].model_fields)

    env_names = [f"{prefix}{sec.upper()}__{key.upper()}" for sec in models for key in _known(sec)]
    problems = []
    for name, value in sorted(environ.items()):
        upper = name.upper()
        if not upper.startswith(prefix):
            continue
        rest = upper.removeprefix(prefix)
        if "__" not in rest:
            if rest in sections:
                try:
                    ok = isinstance(json.loads(value), dict)
                except ValueError:
                    ok = False
                if not ok:
                    problems.append(
                        f"{name}: a whole section must be a JSON object ({_EXAMPLE['an object']}); "
                        f"to set one setting use {prefix}{rest}__<SETTING>"
                    )
                continue
            sec, _, key = rest.partition("_")  # NETVIGIL_API_PORT meant NETVIGIL_API__PORT
            if sec in sections and key.lower() in _known(sections[sec]):
                problems.append(f"{name}: unknown variable; did you mean {prefix}{sec}__{key}?")
            continue
        sec, _, tail = rest.partition("__")
        key = tail.split("__")[0]
        if sec not in sections:
            guess = _suggest(upper, env_names)
            listed = ", ".join(sections.values())
            problems.append(f"{name}: no section {sec.lower()!r}; {guess}sections: {listed}")
            continue
        known = _known(sections[sec])
        if key.lower() not in known:
            guess = _suggest(upper, env_names)
            problems.append(
                f"{name}: {sections[sec]} has no setting {key.lower()!r}; {guess}"
                "see `netvigil config docs`"
            )
            continue
        if "__" in tail:
            continue  # a setting inside a nested object: pydantic reports what is wrong
        field = models[sections[sec]].model_fields[key.lower()]
        kind = _is_complex(field.annotation)
        if kind is None:
            continue
        try:
            json.loads(value)
        except ValueError:
            default = field.default
            plain = default and "Secret" not in repr(default) and not isinstance(default, BaseModel)
            example = f"'{json.dumps(default)}'" if plain else _EXAMPLE[kind]
            problems.append(
                f"{name}: {sections[sec]}.{key.lower()} is {kind}, so the variable must be "
                f"JSON, e.g. {example}; see `netvigil config docs`"
            )
    return problems
