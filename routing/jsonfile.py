"""Reading JSON input files and reporting validation errors: one reader, one formatter.

Every JSON a user hands over (scenario, permits, zones, plan, parameters) is read by
:func:`read_json`, so a missing file or a syntax error is reported the same way everywhere, and
every pydantic validation failure is listed by :func:`validation_messages`, each problem with
the dotted path of the bad field (``sites.3.windows.0.end``) and, where the item has one, its id.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import ValidationError

from routing.errors import InputFileError

MAX_LISTED = 20  # problems listed in one message; a file with more says how many more


def read_json(path: Path | str, *, what: str = "file") -> object:
    """The decoded content of a UTF-8 JSON file (a BOM is fine).

    Parameters
    ----------
    path
        The file.
    what
        What the file is, for the message (``"scenario"``, ``"permits"`` …).

    Returns
    -------
    object
        The decoded JSON value.

    Raises
    ------
    InputFileError
        The file is missing, unreadable or not valid JSON; the message names the file, line and column.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such {what} file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{path}: cannot read the {what} file: {exc}") from None
    return parse_json(text, source=str(path))


def parse_json(text: str, *, source: str) -> object:
    """The decoded content of JSON text (a file's or an upload's).

    Parameters
    ----------
    text
        The JSON text.
    source
        Where it came from (file or upload name), for the message.

    Returns
    -------
    object
        The value, as :func:`json.loads` decodes it.

    Raises
    ------
    InputFileError
        Not valid JSON (the message names the source, line and column), or nested too deeply.
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{source}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise InputFileError(f"{source}: JSON nested too deeply") from None


def parse_feature_collection(text: str, *, source: str) -> list:
    """The features of a GeoJSON FeatureCollection text.

    Parameters
    ----------
    text, source
        As for :func:`parse_json`.

    Returns
    -------
    list
        The ``features`` array, items as found (each item is validated by the caller).

    Raises
    ------
    InputFileError
        Not valid JSON, or not a FeatureCollection with a ``features`` array.
    """
    document = parse_json(text, source=source)
    features = document.get("features") if isinstance(document, dict) else None
    if not isinstance(features, list) or document.get("type") != "FeatureCollection":
        raise InputFileError(f"{source}: expected a GeoJSON FeatureCollection")
    return features


def field_errors(exc: ValidationError) -> list[tuple[str, str]]:
    """``(dotted.path, message)`` for every problem of a pydantic error, pydantic's prefixes removed.

    Parameters
    ----------
    exc
        The validation error (a FastAPI ``RequestValidationError`` has the same ``errors()``).

    Returns
    -------
    list of (str, str)
        The bad field's path (empty for the whole document or row) and what is wrong with it.
    """
    return [(".".join(str(p) for p in err["loc"]), err["msg"].removeprefix("Value error, ")) for err in exc.errors()]


def validation_messages(
    exc: ValidationError, *, raw: object = None, ident: Callable[[object], object] | None = None
) -> list[str]:
    """One line per problem of a pydantic error: ``dotted.path (id X): message``.

    Parameters
    ----------
    exc
        The validation error.
    raw
        The document that was validated; with ``ident``, items on the path are named by id.
    ident
        Returns an item's id (or None), e.g. ``lambda item: item.get("id")``.

    Returns
    -------
    list of str
        At most :data:`MAX_LISTED` lines, and a last line saying how many more there were.
    """
    errors = exc.errors()
    lines = []
    for err, (path, message) in zip(errors[:MAX_LISTED], field_errors(exc)):
        where = path or "(document)"
        name = _item_id(raw, err["loc"], ident) if ident is not None else None
        if name is not None:
            where += f" (id {name})"
        lines.append(f"{where}: {message}")
    if len(errors) > MAX_LISTED:
        lines.append(f"… and {len(errors) - MAX_LISTED} more")
    return lines


def _item_id(raw: object, loc: Sequence, ident: Callable[[object], object]) -> object:
    """The id of the innermost list item on the path that has one."""
    found, node = None, raw
    for part in loc:
        if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            if isinstance(node, dict):
                found = ident(node) if ident(node) is not None else found
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            break
    return found


def validated(model, raw: object, *, source: str, ident: Callable[[object], object] | None = None):
    """``model.model_validate(raw)``, or an :class:`InputFileError` listing every bad field of ``source``.

    Parameters
    ----------
    model : type of pydantic.BaseModel
        The model to validate against.
    raw : object
        The decoded JSON.
    source : str
        The file or record name that starts the message.
    ident : callable, optional
        Gives an item's id from its raw value, to name items in messages.

    Returns
    -------
    BaseModel
        The validated ``model`` instance.

    Raises
    ------
    InputFileError
        Listing every bad field of ``source`` by its path.
    """
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise InputFileError(f"{source}: " + "; ".join(validation_messages(exc, raw=raw, ident=ident))) from None
