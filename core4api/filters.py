"""core4 clients' MongoDB-style ``filter`` argument, translated into Django ``Q`` objects.

Supported: equality, ``$ne``, ``$in``, ``$nin``, ``$regex`` (+ ``$options: "i"``), ``$lt``,
``$lte``, ``$gt``, ``$gte``, ``$exists`` per field, and ``$and`` / ``$or`` / ``$nor`` lists
at any level. As in core4, a string value that contains anything but letters, digits,
``_``, ``/`` and ``-`` is taken as an unanchored regular expression (``"Li*"`` matches every
value containing ``L``). A filter that is not a JSON object is a free-text search over the
view's search fields. Unknown fields or operators are a 400 that names them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet, TextField
from django.db.models.functions import Cast

from core4api.exceptions import BadRequest

SAFE_LITERAL = re.compile(r"^[a-zA-Z0-9_/-]*$")
COMPARISONS = {"$lt": "lt", "$lte": "lte", "$gt": "gt", "$gte": "gte"}
FIELD_OPERATORS = {"$ne", "$in", "$nin", "$regex", "$options", "$exists", *COMPARISONS}
MAX_DEPTH = 16


@dataclass(frozen=True)
class Field:
    """A filterable field: its ORM path and kind (``text``, ``list``, ``value``, ``json``)."""

    path: str
    kind: str = "text"
    distinct: bool = False  # the path crosses a to-many relation


@dataclass
class FilterSpec:
    fields: dict[str, Field]
    search: tuple[str, ...] = ()
    _annotations: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _distinct: bool = field(default=False, init=False, repr=False)

    # --- public -------------------------------------------------------------------------
    def apply(self, queryset: QuerySet, raw: Any) -> QuerySet:
        """Filter ``queryset`` by ``raw`` (JSON text, dict or search text)."""
        if raw in (None, "", {}):
            return queryset
        # a fresh copy per call: specs are shared by concurrent requests
        return replace(self)._apply(queryset, raw)

    def _apply(self, queryset: QuerySet, raw: Any) -> QuerySet:
        if isinstance(raw, str):
            text = raw.strip()
            if text.startswith("{"):
                try:
                    raw = json.loads(text)
                except (ValueError, RecursionError) as exc:
                    raise BadRequest(f"Can not parse filter {text[:200]}: {exc}") from exc
            else:
                return self._search(queryset, text)
        if not isinstance(raw, dict):
            raise BadRequest("filter must be a JSON object or a search text")
        return self._finish(queryset, self._document(raw, 0))

    # --- internals ------------------------------------------------------------------------
    def _search(self, queryset: QuerySet, text: str) -> QuerySet:
        if not self.search:
            raise BadRequest("filter must be a JSON object")
        q = Q(pk__in=[])
        for name in self.search:
            q |= self._text_lookup(self.fields[name], "icontains", text)
        return self._finish(queryset, q)

    def _finish(self, queryset: QuerySet, q: Q) -> QuerySet:
        if self._annotations:
            queryset = queryset.annotate(**self._annotations)
        try:
            queryset = queryset.filter(q)
        except (ValueError, TypeError, OverflowError, ValidationError) as exc:
            # the field refuses the value ({"total": "abc"}, {"created": 5}, 1e400 …)
            raise BadRequest(f"invalid filter value: {exc}") from exc
        return queryset.distinct() if self._distinct else queryset

    def _document(self, doc: dict, depth: int) -> Q:
        if depth > MAX_DEPTH:
            raise BadRequest("filter nested too deeply")
        q = Q()
        for key, value in doc.items():
            if key in ("$and", "$or", "$nor"):
                if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                    raise BadRequest(f"filter operator [{key}] expects a list of objects")
                parts = [self._document(v, depth + 1) for v in value]
                if key == "$and":
                    for part in parts:
                        q &= part
                else:
                    combined = Q()
                    for part in parts:
                        combined |= part
                    q &= ~combined if key == "$nor" else combined
            elif key.startswith("$"):
                raise BadRequest(f"unknown filter operator [{key}]")
            else:
                q &= self._condition(key, value, depth)
        return q

    def _field(self, name: str) -> tuple[Field, str]:
        if name in self.fields:
            return self.fields[name], self.fields[name].path
        head, _, rest = name.partition(".")
        spec = self.fields.get(head)
        if spec is not None and spec.kind == "json" and rest:
            if not all(re.fullmatch(r"[A-Za-z0-9_-]+", part) for part in rest.split(".")):
                raise BadRequest(f"unknown filter field [{name}]")
            return Field(spec.path + "__" + rest.replace(".", "__"), "value"), ""
        raise BadRequest(f"unknown filter field [{name}]")

    def _condition(self, name: str, value: Any, depth: int) -> Q:
        spec, _ = self._field(name)
        if spec.distinct:
            self._distinct = True
        if isinstance(value, dict) and any(k.startswith("$") for k in value):
            unknown = [k for k in value if k not in FIELD_OPERATORS]
            if unknown:
                raise BadRequest(f"unknown filter operator [{unknown[0]}]")
            q = Q()
            for op, operand in value.items():
                q &= self._operator(spec, op, operand, value.get("$options", ""))
            return q
        return self._equals(spec, value)

    def _operator(self, spec: Field, op: str, operand: Any, options: Any) -> Q:
        if op == "$options":
            return Q()
        if op == "$ne":
            return ~self._equals(spec, operand)
        if op in ("$in", "$nin"):
            if not isinstance(operand, list):
                raise BadRequest(f"filter operator [{op}] expects a list")
            q = Q(pk__in=[])
            for item in operand:
                q |= self._equals(spec, item)
            return ~q if op == "$nin" else q
        if op == "$regex":
            if not isinstance(operand, str):
                raise BadRequest("filter operator [$regex] expects a string")
            insensitive = isinstance(options, str) and "i" in options
            return self._regex(spec, operand, insensitive)
        if op == "$exists":
            if not isinstance(operand, bool):
                raise BadRequest("filter operator [$exists] expects true or false")
            return Q(**{f"{spec.path}__isnull": not operand})
        self._check_scalar(operand)
        return Q(**{f"{spec.path}__{COMPARISONS[op]}": operand})

    @staticmethod
    def _check_scalar(value: Any) -> None:
        if isinstance(value, (dict, list)):
            raise BadRequest("filter values must be strings, numbers, booleans or null")

    def _equals(self, spec: Field, value: Any) -> Q:
        if spec.kind == "json" and not isinstance(value, (dict, list)):
            raise BadRequest("filter on a JSON field needs a dotted key (e.g. args.name)")
        if (
            isinstance(value, str)
            and not SAFE_LITERAL.match(value)
            and spec.kind
            in (
                "text",
                "list",
            )
        ):
            return self._regex(spec, value, False)
        if spec.kind == "list":
            self._check_scalar(value)
            return self._text_lookup(spec, "contains", json.dumps(value))
        if spec.kind != "json":
            self._check_scalar(value)
        if value is None:
            return Q(**{f"{spec.path}__isnull": True})
        return Q(**{spec.path: value})

    def _regex(self, spec: Field, pattern: str, insensitive: bool) -> Q:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise BadRequest(f"invalid regular expression [{pattern[:200]}]: {exc}") from exc
        if spec.kind not in ("text", "list"):
            raise BadRequest("regular expressions apply to text fields only")
        return self._text_lookup(spec, "iregex" if insensitive else "regex", pattern)

    def _text_lookup(self, spec: Field, lookup: str, value: str) -> Q:
        if spec.distinct:
            self._distinct = True
        if spec.kind == "list":
            alias = "_filter_" + spec.path.replace("__", "_") + "_text"
            self._annotations[alias] = Cast(spec.path, TextField())
            return Q(**{f"{alias}__{lookup}": value})
        return Q(**{f"{spec.path}__{lookup}": value})
