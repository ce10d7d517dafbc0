"""Request arguments the way core4 reads them: query string and JSON body merged, body wins.

core4 clients post JSON with or without a ``Content-Type`` header and put the same
arguments into the query string just as often, so views never look at ``request.data`` or
``request.query_params`` directly; they call :func:`argument`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.http import QueryDict

from core4api.exceptions import BadRequest
from core4api.text import text_error

MISSING: Any = object()
_CACHE_ATTR = "_core4_arguments"

TRUE_WORDS = {"1", "true", "t", "yes", "y", "on"}
FALSE_WORDS = {"0", "false", "f", "no", "n", "off"}


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise ValueError(value)


def _parse_json_container(kind: type) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, str):
            value = json.loads(value)
        if not isinstance(value, kind):
            raise ValueError(value)
        check_text(value)  # JSON from the query string: the same rules as the body's
        return value

    return convert


def _parse_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(value)
    return int(value)


def _parse_str(value: Any) -> str:
    if isinstance(value, (dict, list)):
        raise ValueError(value)
    return value if isinstance(value, str) else json.dumps(value)


def _parse_datetime(value: Any) -> datetime:
    """ISO-8601 date or datetime (``Z`` or an offset allowed); naive values are UTC."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        parsed = datetime.fromisoformat(value.strip())
    else:
        raise ValueError(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


CONVERTERS: dict[type, Callable[[Any], Any]] = {
    bool: parse_bool,
    int: _parse_int,
    float: float,
    str: _parse_str,
    list: _parse_json_container(list),
    dict: _parse_json_container(dict),
    datetime: _parse_datetime,
}


def _body_arguments(request) -> dict[str, Any]:
    django_request = getattr(request, "_request", request)
    content_type = (django_request.content_type or "").lower()
    raw = django_request.body  # RequestDataTooBig is turned into a 400 by the handler
    if not raw:
        return {}
    if content_type == "application/x-www-form-urlencoded" and not raw.lstrip().startswith(b"{"):
        form = QueryDict(raw, encoding=django_request.encoding or "utf-8")
        return {key: form[key] for key in form}
    # JSON whatever the content type says: core4 clients (and `curl -d '{…}'`, which sends
    # application/x-www-form-urlencoded) post JSON objects without a JSON content type
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        if "json" in content_type:
            raise BadRequest(f"invalid JSON body: {exc}") from exc
        return {}  # core4 ignores bodies that are not JSON
    if isinstance(body, dict):
        return body
    if "json" in content_type:
        raise BadRequest("JSON body must be an object")
    return {}


MAX_DEPTH = 32


def check_text(value: Any, depth: int = 0) -> None:
    """Strings that cannot be stored or encoded (NUL, lone surrogates), too deep nesting: 400."""
    if depth > MAX_DEPTH:
        raise BadRequest("arguments nested too deeply")
    if isinstance(value, str):
        error = text_error(value)
        if error:
            raise BadRequest(error)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key, depth + 1)
            check_text(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_text(item, depth + 1)


def arguments(request) -> dict[str, Any]:
    """All arguments of the request (last query value per key, then the JSON body on top)."""
    cached = getattr(request, _CACHE_ATTR, None)
    if cached is not None:
        return cached
    django_request = getattr(request, "_request", request)
    merged: dict[str, Any] = {key: django_request.GET[key] for key in django_request.GET}
    merged.update(_body_arguments(request))
    check_text(merged)
    setattr(request, _CACHE_ATTR, merged)
    return merged


def argument(request, name: str, default: Any = MISSING, as_type: type | None = None) -> Any:
    """One argument, converted to ``as_type``; a clear 400 when missing or of the wrong type."""
    args = arguments(request)
    if name not in args:
        if default is MISSING:
            raise BadRequest(f"MissingArgumentError: Missing argument {name}")
        return default
    value = args[name]
    if as_type is None:
        return value
    if value is None and default is not MISSING:
        return default
    try:
        return CONVERTERS[as_type](value)
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise BadRequest(f"parameter [{name}] expected as_type [{as_type.__name__}]") from exc


def has_argument(request, name: str) -> bool:
    return name in arguments(request)
