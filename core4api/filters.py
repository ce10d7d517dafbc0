"""core4 clients' ``filter`` and ``sort``/``order`` as DRF filter backends.

A listing view names the backends in ``filter_backends`` and declares what they may touch:

* ``filter_fields``: API name → :class:`Field` (ORM path, kind, converter of compared values);
  ``search_fields``: the fields a filter that is not a JSON object searches (free text);
  ``filter_defaults``: a document the client's own keys override (e.g. a default channel).
* ``sort_fields``: API name → ORM field; ``default_sort``: ``(name, 1|-1)`` pairs;
  ``sort_by_direction``: ``sort`` is only ``1``/``-1``, the direction of ``default_sort``
  (core4's history handlers).

``filter`` supports equality, ``$ne``, ``$in``, ``$nin``, ``$regex`` (+ ``$options: "i"``),
``$lt``, ``$lte``, ``$gt``, ``$gte``, ``$exists`` per field, and ``$and`` / ``$or`` / ``$nor``
lists at any level. As in core4, a string value that contains anything but letters, digits,
``_``, ``/`` and ``-`` is taken as an unanchored regular expression (``"Li*"`` matches every
value containing ``L``). Unknown fields or operators are a 400 that names them.

Every filter is bounded (:mod:`core4api.limits`): before any work is done on it, its size,
the items of every list and object and its nesting; while its query is built, the number of
conditions and of regular expressions and each pattern's length. Building is linear in its
size (``Q`` objects are built from lists, never by repeated ``|=``), and a list of plain
values is one ``IN``, not one condition per value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet, TextField
from django.db.models.functions import Cast
from rest_framework.filters import BaseFilterBackend

from core4api.arguments import CONVERTERS, argument
from core4api.exceptions import BadRequest
from core4api.limits import COSTLY_ATTR, COSTLY_BYTES, COSTLY_CONDITIONS, limit, too_big
from core4api.patterns import check_pattern

SAFE_LITERAL = re.compile(r"^[a-zA-Z0-9_/-]*$")
JSON_KEY_PART = re.compile(r"^[A-Za-z0-9_-]+$")
COMPARISONS = {"$lt": "lt", "$lte": "lte", "$gt": "gt", "$gte": "gte"}
FIELD_OPERATORS = {"$ne", "$in", "$nin", "$regex", "$options", "$exists", *COMPARISONS}
LOGICAL = ("$and", "$or", "$nor")


@dataclass(frozen=True)
class Field:
    """A filterable field: its ORM path and kind (``text``, ``list``, ``value``, ``json``).

    ``convert`` turns each value the client compares the field with into what the column
    holds (ISO text into datetimes, string ids into numbers …); it raises ``BadRequest`` for
    values that can never match, or returns them unchanged for the column to refuse.
    """

    path: str
    kind: str = "text"
    distinct: bool = False  # the path crosses a to-many relation
    convert: Callable[[Any], Any] | None = None
    in_lookup: bool = True  # literal $in lists may become one ``__in`` lookup


def to_datetime(value: Any) -> Any:
    """The filters' datetime converter: ISO-8601 text means UTC when it names no zone.

    Text that is no datetime is passed on unchanged: the column then says what is wrong.
    """
    if isinstance(value, str):
        try:
            return CONVERTERS[datetime](value)
        except ValueError:
            return value
    return value


def _is_pattern(value: Any) -> bool:
    """core4: text with anything but letters, digits, ``_ / -`` is a regular expression."""
    return isinstance(value, str) and not SAFE_LITERAL.match(value)


# --- the filter document: parsed and bounded ----------------------------------------------
def _check_shape(doc: Any) -> None:
    """Items per list/object and nesting depth, in one pass without recursion."""
    max_items = limit("CORE4_FILTER_MAX_ITEMS")
    max_depth = limit("CORE4_FILTER_MAX_DEPTH")
    stack = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > max_depth:
            raise too_big("filter nested too deeply", "CORE4_FILTER_MAX_DEPTH")
        if len(node) > max_items:
            kind = "object" if isinstance(node, dict) else "list"
            raise too_big(f"filter {kind} of {len(node)} items", "CORE4_FILTER_MAX_ITEMS")
        stack.extend((child, depth + 1) for child in children)


def filter_size(raw: Any) -> int:
    """Bytes of the filter's JSON text."""
    if isinstance(raw, str):
        return len(raw.encode("utf-8", "surrogatepass"))
    try:
        return len(json.dumps(raw, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    except (ValueError, TypeError, RecursionError) as exc:
        raise BadRequest("filter must be a JSON object or a search text") from exc


def parse_filter(raw: Any, size: int | None = None) -> dict | str | None:
    """The ``filter`` argument as a bounded JSON object, a search text, or ``None``."""
    if raw in (None, "", {}):
        return None
    size = filter_size(raw) if size is None else size
    if size > limit("CORE4_FILTER_MAX_BYTES"):
        raise too_big(f"filter of {size} bytes", "CORE4_FILTER_MAX_BYTES")
    if isinstance(raw, str):
        text = raw.strip()
        if not text.startswith("{"):
            return text or None  # free-text search
        try:
            raw = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise BadRequest(f"Can not parse filter {text[:200]}: {exc}") from exc
    if not isinstance(raw, dict):
        raise BadRequest("filter must be a JSON object or a search text")
    _check_shape(raw)
    return raw


# --- the filter document as a Q object ----------------------------------------------------
@dataclass
class FilterSpec:
    """Translates one bounded filter document into a ``Q`` (one instance per request)."""

    fields: dict[str, Field]
    search: tuple[str, ...] = ()
    annotations: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    distinct: bool = field(default=False, init=False, repr=False)
    conditions: int = field(default=0, init=False, repr=False)
    patterns: int = field(default=0, init=False, repr=False)

    def apply(self, queryset: QuerySet, doc: dict | str | None) -> QuerySet:
        if doc is None:
            return queryset
        try:
            q = self._search(doc) if isinstance(doc, str) else self._document(doc)
        except RecursionError as exc:  # bounded by the limits; never a 500 regardless
            raise too_big("filter nested too deeply", "CORE4_FILTER_MAX_DEPTH") from exc
        if self.annotations:
            queryset = queryset.annotate(**self.annotations)
        try:
            queryset = queryset.filter(q)
        except (ValueError, TypeError, OverflowError, ValidationError) as exc:
            # the field refuses the value ({"total": "abc"}, {"created": 5}, 1e400 …)
            message = exc.messages[0] if isinstance(exc, ValidationError) else str(exc)
            raise BadRequest(f"invalid filter value: {message[:200]}") from exc
        return queryset.distinct() if self.distinct else queryset

    def _search(self, text: str) -> Q:
        if not self.search:
            raise BadRequest("filter must be a JSON object")
        terms = [self._text_lookup(self.fields[name], "icontains", text) for name in self.search]
        return Q(*terms, _connector=Q.OR)

    def _document(self, doc: dict) -> Q:
        parts: list[Q] = []
        for key, value in doc.items():
            if key in LOGICAL:
                if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                    raise BadRequest(f"filter operator [{key}] expects a list of objects")
                children = [self._document(v) for v in value]
                if not children:
                    continue
                if key == "$and":
                    parts.extend(children)
                else:
                    either = Q(*children, _connector=Q.OR)
                    parts.append(~either if key == "$nor" else either)
            elif key.startswith("$"):
                raise BadRequest(f"unknown filter operator [{key[:100]}]")
            else:
                parts.append(self._condition(key, value))
        return Q(*parts)

    def _field(self, name: str) -> Field:
        if name in self.fields:
            return self.fields[name]
        head, _, rest = name.partition(".")
        spec = self.fields.get(head)
        if spec is not None and spec.kind == "json" and rest:
            parts = rest.split(".")
            if len(parts) >= limit("CORE4_FILTER_MAX_DEPTH"):
                raise too_big(
                    f"filter key [{name[:100]}…] nested too deeply", "CORE4_FILTER_MAX_DEPTH"
                )
            if not all(JSON_KEY_PART.match(part) for part in parts):
                raise BadRequest(f"unknown filter field [{name[:100]}]")
            return Field(spec.path + "__" + "__".join(parts), "value", in_lookup=False)
        raise BadRequest(f"unknown filter field [{name[:100]}]")

    def _condition(self, name: str, value: Any) -> Q:
        spec = self._field(name)
        if spec.distinct:
            self.distinct = True
        if isinstance(value, dict) and any(k.startswith("$") for k in value):
            unknown = [k for k in value if k not in FIELD_OPERATORS]
            if unknown:
                raise BadRequest(f"unknown filter operator [{unknown[0][:100]}]")
            options = value.get("$options", "")
            return Q(*[self._operator(spec, op, operand, options) for op, operand in value.items()])
        return self._equals(spec, self._convert(spec, value))

    @staticmethod
    def _convert(spec: Field, value: Any) -> Any:
        if spec.convert is None:
            return value
        if isinstance(value, list):
            return [spec.convert(item) for item in value]
        return spec.convert(value)

    def _operator(self, spec: Field, op: str, operand: Any, options: Any) -> Q:
        if op == "$options":
            return Q()
        if op == "$regex":
            if not isinstance(operand, str):
                raise BadRequest("filter operator [$regex] expects a string")
            insensitive = isinstance(options, str) and "i" in options
            return self._regex(spec, operand, insensitive)
        if op == "$exists":
            if not isinstance(operand, bool):
                raise BadRequest("filter operator [$exists] expects true or false")
            return self._leaf(f"{spec.path}__isnull", not operand)
        operand = self._convert(spec, operand)
        if op == "$ne":
            return ~self._equals(spec, operand)
        if op in ("$in", "$nin"):
            if not isinstance(operand, list):
                raise BadRequest(f"filter operator [{op}] expects a list")
            q = self._any_of(spec, operand)
            return ~q if op == "$nin" else q
        self._check_scalar(operand)
        return self._leaf(f"{spec.path}__{COMPARISONS[op]}", operand)

    def _any_of(self, spec: Field, items: list) -> Q:
        """``$in``: plain values as one ``__in`` lookup, patterns and nulls as alternatives."""
        if not items:
            return Q(pk__in=[])
        literals, terms = [], []
        groupable = spec.in_lookup and spec.kind in ("text", "value")
        for item in items:
            plain = item is not None and not isinstance(item, (dict, list))
            if groupable and plain and not (spec.kind == "text" and _is_pattern(item)):
                literals.append(item)
            else:
                terms.append(self._equals(spec, item))
        if literals:
            terms.append(self._leaf(f"{spec.path}__in", literals))
        return Q(*terms, _connector=Q.OR)

    @staticmethod
    def _check_scalar(value: Any) -> None:
        if isinstance(value, (dict, list)):
            raise BadRequest("filter values must be strings, numbers, booleans or null")

    def _equals(self, spec: Field, value: Any) -> Q:
        if spec.kind == "json" and not isinstance(value, (dict, list)):
            raise BadRequest("filter on a JSON field needs a dotted key (e.g. args.name)")
        if spec.kind in ("text", "list") and _is_pattern(value):
            return self._regex(spec, value, False)
        if spec.kind == "list":
            self._check_scalar(value)
            return self._text_lookup(spec, "contains", json.dumps(value))
        if spec.kind != "json":
            self._check_scalar(value)
        if value is None:
            return self._leaf(f"{spec.path}__isnull", True)
        return self._leaf(spec.path, value)

    def _leaf(self, lookup: str, value: Any) -> Q:
        """One condition of the query; their number bounds the cost of building and running it."""
        self.conditions += 1
        if self.conditions > limit("CORE4_FILTER_MAX_CONDITIONS"):
            raise too_big("filter with too many conditions", "CORE4_FILTER_MAX_CONDITIONS")
        return Q(**{lookup: value})

    def _regex(self, spec: Field, pattern: str, insensitive: bool) -> Q:
        self.patterns += 1
        if self.patterns > limit("CORE4_FILTER_MAX_PATTERNS"):
            raise too_big("filter with too many regular expressions", "CORE4_FILTER_MAX_PATTERNS")
        check_pattern(pattern)
        if spec.kind not in ("text", "list"):
            raise BadRequest("regular expressions apply to text fields only")
        return self._text_lookup(spec, "iregex" if insensitive else "regex", pattern)

    def _text_lookup(self, spec: Field, lookup: str, value: str) -> Q:
        if spec.distinct:
            self.distinct = True
        if spec.kind == "list":
            alias = "_filter_" + spec.path.replace("__", "_") + "_text"
            self.annotations[alias] = Cast(spec.path, TextField())
            return self._leaf(f"{alias}__{lookup}", value)
        return self._leaf(f"{spec.path}__{lookup}", value)


class Core4Filter(BaseFilterBackend):
    """``filter`` on the view's ``filter_fields`` (free text on its ``search_fields``)."""

    def filter_queryset(self, request, queryset: QuerySet, view) -> QuerySet:
        raw = argument(request, "filter", None)
        size = 0 if raw in (None, "", {}) else filter_size(raw)
        doc = parse_filter(raw, size)
        spec = FilterSpec(view.filter_fields, tuple(getattr(view, "search_fields", ())))
        defaults = getattr(view, "filter_defaults", None)
        if defaults:
            if isinstance(doc, dict):
                doc = {**defaults, **doc}
            else:
                queryset = FilterSpec(view.filter_fields).apply(queryset, dict(defaults))
        queryset = spec.apply(queryset, doc)
        if spec.patterns or spec.conditions > COSTLY_CONDITIONS or size > COSTLY_BYTES:
            setattr(request, COSTLY_ATTR, True)  # the pager runs it in a costly slot
        return queryset


# --- sort ------------------------------------------------------------------------------------
def _direction(value: Any, name: str) -> int:
    if value not in (1, -1) or isinstance(value, bool):
        raise BadRequest(f"parameter [{name}] must be 1 or -1")
    return value


def _pairs(raw: Any) -> list[tuple[str, int]]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise BadRequest(f"parameter [sort] is not valid JSON: {exc}") from exc
    if not isinstance(raw, list):
        raise BadRequest("parameter [sort] expects a field name or a list of [field, 1|-1]")
    pairs: list[tuple[str, int]] = []
    for entry in raw:
        item: Any = [entry, 1] if isinstance(entry, str) else entry
        if (
            not isinstance(item, list)
            or len(item) != 2
            or not isinstance(item[0], str)
            or item[1] not in (1, -1)
            or isinstance(item[1], bool)
        ):
            raise BadRequest("parameter [sort] expects a list of [field, 1|-1]")
        pairs.append((item[0], item[1]))
    return pairs


def sort_pairs(request, view) -> list[tuple[str, int]]:
    """``sort`` as core4 clients send it: ``[["_id", 1]]``, a field name + ``order``, or
    (``sort_by_direction`` views) just the direction ``1``/``-1``."""
    default = list(view.default_sort)
    if getattr(view, "sort_by_direction", False):
        direction = argument(request, "sort", None, int)
        if direction is None:
            return default
        return [(name, _direction(direction, "sort")) for name, _ in default]
    raw = argument(request, "sort", None)
    if isinstance(raw, str) and raw.lstrip().startswith("[") or isinstance(raw, list) and raw:
        return _pairs(raw)
    order = argument(request, "order", None, int)
    if order is not None:
        order = _direction(order, "order")
    if raw in (None, "", []):  # the default keys, turned round by ``order``
        return default if order is None else [(name, order) for name, _ in default]
    if not isinstance(raw, str):
        raise BadRequest("parameter [sort] expects a field name or a list of [field, 1|-1]")
    return [(raw.strip(), order or 1)]


class Core4Sort(BaseFilterBackend):
    """``sort``/``order`` on the view's ``sort_fields``; ties keep primary-key order."""

    def filter_queryset(self, request, queryset: QuerySet, view) -> QuerySet:
        sort_fields: dict[str, str] = view.sort_fields
        ordering = []
        for name, direction in sort_pairs(request, view):
            if name not in sort_fields:
                raise BadRequest(f"cannot sort by [{name[:100]}], use one of {sorted(sort_fields)}")
            column = sort_fields[name]
            ordering.append(column if direction == 1 else f"-{column}")
        if not {o.lstrip("-") for o in ordering} & {"pk", "id"}:
            ordering.append("pk")
        return queryset.order_by(*ordering)
