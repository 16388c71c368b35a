"""The one place that says what is wrong with a setting: nearest names, explained pydantic errors.

Every error a person reads about a setting (a misspelt key or name, a value out of range, a
component that is not registered) is phrased here: one sentence, its key path, and for a
misspelling the nearest valid names (`did_you_mean`). engine/registry.py checks registered
components with it; the sweep, suite and database readers use it too.
"""

from __future__ import annotations

import difflib
import re
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

EXPLAINED = "explained"  # the error type of a message that already says what is wrong and what would fit


def nearest(name: str, options: list[str] | tuple[str, ...], n: int = 3, key: Any = None) -> list[str]:
    """The options closest to a misspelt name (best first): close ones if any, else looser ones.

    `key` gives the part of an option to compare (e.g. the name in 'family/name'); default: all of it.
    """
    by_key: dict[str, list[str]] = {}
    for option in options:
        by_key.setdefault(str(key(option) if key else option), []).append(option)
    close = difflib.get_close_matches(str(name), list(by_key), n=n, cutoff=0.8) or difflib.get_close_matches(
        str(name), list(by_key), n=n, cutoff=0.5
    )
    return [option for match in close for option in by_key[match]]


def did_you_mean(name: str, options: list[str] | tuple[str, ...], key: Any = None) -> str:
    close = nearest(name, options, key=key)
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    return "valid names: " + ", ".join(sorted(options))


class UnknownComponent(KeyError, ValueError):  # a ValueError too, so schema validators report it
    def __init__(self, kind: str, name: str, options: list[str]):
        self.kind, self.name, self.options = kind, name, options
        super().__init__(f"unknown {kind} {name!r}; {did_you_mean(name, options)}")

    def __str__(self) -> str:  # KeyError would quote the whole message
        return self.args[0]


# ----------------------------------------------------------------------------- errors, explained once


def explain(error: Any, schema: type[BaseModel] | None = None) -> str:
    """One pydantic error as a sentence, without its key path; `schema` is where its location starts."""
    kind, loc = error["type"], [str(p) for p in error["loc"]]
    if kind == EXPLAINED:
        return error["msg"]
    if kind == "extra_forbidden":
        valid = list(schema_at(schema, loc[:-1]).model_fields) if schema is not None else []
        return f"unknown key; {did_you_mean(loc[-1], valid)}"
    if kind == "missing":
        return "missing required value"
    if kind == "literal_error":
        options = re.findall(r"'([^']*)'", error["ctx"]["expected"])
        return f"{error['input']!r} is not allowed; {did_you_mean(str(error['input']), options)}"
    message = error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    shown = "input" in error and not isinstance(value, dict) and repr(value) not in message
    return f"{message} (got {value!r})" if shown else message


def error_lines(exc: ValidationError, schema: type[BaseModel], prefix: str = "") -> list[str]:
    """One line per pydantic error: its key path (under `prefix`) and the sentence `explain` gives."""
    lines = []
    for error in exc.errors():
        path = ".".join([prefix, *map(str, error["loc"])] if prefix else map(str, error["loc"]))
        lines.append(f"{path}: {explain(error, schema)}" if path else explain(error, schema))
    return lines


def explained(message: str, loc: tuple = (), value: Any = None) -> InitErrorDetails:
    """An error carrying its final message (the template is not re-formatted, so braces are safe)."""
    return InitErrorDetails(
        type=PydanticCustomError(EXPLAINED, "{message}", {"message": message}), loc=loc, input=value
    )


def raise_explained(title: str, errors: list[InitErrorDetails]) -> None:
    if errors:
        raise ValidationError.from_exception_data(title, errors)


def check(schema: type[BaseModel], value: Any, loc: tuple = ()) -> BaseModel:
    """`value` validated against `schema`; on failure a ValidationError of explained errors located under `loc`."""
    if isinstance(value, schema):
        return value
    try:
        return schema.model_validate({} if value is None else value)
    except ValidationError as exc:
        errors = [explained(explain(e, schema), (*loc, *e["loc"]), e.get("input")) for e in exc.errors()]
        raise ValidationError.from_exception_data(schema.__name__, errors) from None


def schema_at(schema: type[BaseModel], loc: list[str]) -> type[BaseModel]:
    """The nested schema that holds the key at `loc` (for did-you-mean)."""
    for part in loc:
        field_info = schema.model_fields.get(part)
        if field_info is None:
            continue
        nested = _model_in(field_info.annotation)
        if nested is not None:
            schema = nested
    return schema


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) is not None:
        for arg in get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None
