"""One codec for every record: frozen dataclasses <-> plain, JSON-ready data.

Pure module (no pytest, no I/O).  The history, the ``--llm-json`` document and the CI
gate's baseline reader all read and write rankings and results through it, so a field
added to a record (:class:`~pytest_llmbench.execution.results.Result`,
:class:`~pytest_llmbench.analysis.ranking.TaskRanking` and everything it holds) is
written and read back everywhere without further code.

Driven by the dataclass fields and their type hints, not by code per class:

- writing (:meth:`Codec.encode`): a dataclass becomes an object of its fields (in
  field order), a tuple or list an array, a mapping an object; ``str``, ``int``,
  ``float``, ``bool`` and ``None`` stay as they are.  The codec's own form is what
  ``dataclasses.asdict`` gives, after a trip through ``json``.
- reading (:meth:`Codec.decode`): the type hints say what each value must be
  (optional values, unions, fixed and variable tuples, mappings, nested dataclasses).
  Keys a record does not know are ignored (data written by a newer version); a field
  that is absent takes its default.  Anything else that does not fit, a missing
  required field, a string where a number belongs, raises :class:`CodecError` naming
  where it is and what is wrong, never a bare ``TypeError``.

A document with a shape of its own (the ``--llm-json`` document renames and regroups
some fields and adds display-only values) gives the codec a :class:`View` per record
type: how the record's fields become the document's object and back.  Fields a view
does not handle pass through under their own names, so a new field needs no new code.
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["CODEC", "Codec", "CodecError", "View", "decode", "encode"]

T = TypeVar("T")
R = TypeVar("R")

Plain = Any
"""JSON-ready data: ``dict`` with ``str`` keys, ``list``, ``str``, ``int``, ``float``,
``bool`` or ``None``."""


class CodecError(ValueError):
    """Data that is not the record it should be; ``str()`` says where and what is wrong."""

    def __init__(self, problem: str, where: str = "") -> None:
        self.problem = problem
        self.where = where
        super().__init__(f"{where}: {problem}" if where else problem)

    def inside(self, where: str) -> CodecError:
        """The same problem, located inside ``where`` (an enclosing key or index)."""
        return CodecError(self.problem, _join(where, self.where))


@dataclass(frozen=True)
class View(Generic[R]):
    """How one record type looks in a document with a shape of its own.

    :param write: ``(record, fields) -> object``: ``fields`` are the record's fields,
        already encoded (nested records through their own views); returns the
        document's object, with any display-only keys added.
    :param read: ``object -> fields``: the document's object back to the record's
        field names; the values are decoded afterwards by the field types (nested
        records through their own views).  Display-only keys may stay: the codec
        ignores keys that are not fields.  Raise :class:`CodecError` for data of the
        wrong shape.  ``None``: the object's keys are the field names.
    """

    write: Callable[[R, dict[str, Plain]], dict[str, Plain]]
    read: Callable[[Mapping[str, Plain]], Mapping[str, Plain]] | None = None


def _join(outer: str, inner: str) -> str:
    if not inner:
        return outer
    if not outer:
        return inner
    return outer + inner if inner.startswith("[") else f"{outer}.{inner}"


def _kind(value: Any) -> str:
    """How a wrong value is named in a message (``a string 'x'``, ``a list``, ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({value!r})"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:39] + "…"
        return f"a string ({shown!r})"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    return type(value).__name__


_FIELDS: dict[type[Any], tuple[tuple[str, Any, bool], ...]] = {}
_NAMES: dict[type[Any], tuple[str, ...]] = {}


def _names(kind: type[Any]) -> tuple[str, ...]:
    """The names of the ``__init__`` fields of a dataclass (cached): what writing needs
    (no type hint resolved, so no module imported for one)."""
    known = _NAMES.get(kind)
    if known is None:
        known = _NAMES[kind] = tuple(f.name for f in dataclasses.fields(kind) if f.init)
    return known


def _fields(kind: type[Any]) -> tuple[tuple[str, Any, bool], ...]:
    """(name, type hint, required) of each ``__init__`` field of a dataclass (cached)."""
    known = _FIELDS.get(kind)
    if known is None:
        hints = _hints(kind)
        known = _FIELDS[kind] = tuple(
            (
                f.name,
                hints[f.name],
                f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
            )
            for f in dataclasses.fields(kind)
            if f.init
        )
    return known


def _hints(kind: type[Any]) -> dict[str, Any]:
    """``typing.get_type_hints(kind)``, a name its module imports only when needed
    (under ``TYPE_CHECKING``, served by the module's ``__getattr__``: a record type of a
    feature the run may not use) asked of the module first."""
    while True:
        try:
            return typing.get_type_hints(kind)
        except NameError as exc:
            if not exc.name or not _import_lazily(kind, exc.name):
                raise


def _import_lazily(kind: type[Any], name: str) -> bool:
    """Whether a module of ``kind`` (or of a base) gave ``name``, now one of its globals."""
    for base in kind.__mro__:
        module = sys.modules.get(base.__module__)
        if module is not None and name not in vars(module):
            try:
                value = getattr(module, name)  # the module's __getattr__, if it has one
            except AttributeError:
                continue
            vars(module)[name] = value
            return True
    return False


def _is_record(kind: Any) -> bool:
    return isinstance(kind, type) and dataclasses.is_dataclass(kind)


_SCALARS: dict[Any, str] = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
}


class Codec:
    """Encoder and decoder of records, with optional :class:`View` s per record type.

    :data:`CODEC` (no views) is the canonical form, the one the history stores.
    """

    def __init__(self, views: Mapping[type[Any], View[Any]] | None = None) -> None:
        self.views: Mapping[type[Any], View[Any]] = dict(views or {})

    # -- writing --------------------------------------------------------------

    def encode(self, value: object) -> Plain:
        """``value`` as plain data (see the module docstring)."""
        if value is None or isinstance(value, str | int | float):  # bool is an int
            return value
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = {name: self.encode(getattr(value, name)) for name in _names(type(value))}
            view = self.views.get(type(value))
            return view.write(value, fields) if view is not None else fields
        if isinstance(value, Mapping):
            if not all(isinstance(key, str) for key in value):
                raise CodecError(f"cannot encode a mapping with keys other than strings: {value!r}")
            return {key: self.encode(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.encode(item) for item in value]
        raise CodecError(f"cannot encode {type(value).__name__} {value!r}")

    # -- reading --------------------------------------------------------------

    def decode(self, kind: type[T], data: object, where: str = "") -> T:
        """Rebuild a ``kind`` from plain ``data``; :class:`CodecError` when it does not fit.

        :param where: what ``data`` is, for messages (``tasks.grading``).
        """
        value: T = self.decode_hint(kind, data, where)
        return value

    def decode_hint(self, hint: Any, data: object, where: str = "") -> Any:
        """:meth:`decode` for any type hint (``float | None``, ``tuple[str, ...]``, ...)."""
        try:
            return self._decode(hint, data)
        except CodecError as exc:
            raise exc.inside(where) from None

    def _decode(self, hint: Any, data: object) -> Any:
        if hint is Any or hint is object:
            return data
        origin = typing.get_origin(hint)
        if origin is typing.Union or origin is types.UnionType:
            return self._union(hint, data)
        if _is_record(hint):
            return self._record(hint, data)
        if origin is tuple:
            return self._tuple(hint, data)
        if origin in (list, Sequence):
            (item,) = typing.get_args(hint) or (Any,)
            return [self._at(item, value, f"[{i}]") for i, value in enumerate(self._array(data))]
        if origin in (dict, Mapping):
            return self._mapping(hint, data)
        if hint is type(None):
            if data is not None:
                raise CodecError(f"expected null, got {_kind(data)}")
            return None
        if hint in _SCALARS:
            return self._scalar(hint, data)
        raise CodecError(f"cannot decode values of type {hint!r}")

    def _at(self, hint: Any, data: object, where: str) -> Any:
        try:
            return self._decode(hint, data)
        except CodecError as exc:
            raise exc.inside(where) from None

    def _union(self, hint: Any, data: object) -> Any:
        options = typing.get_args(hint)
        if data is None and type(None) in options:
            return None
        present = [o for o in options if o is not type(None)]
        errors: list[CodecError] = []
        for option in present:
            try:
                return self._decode(option, data)
            except CodecError as exc:
                errors.append(exc)
        if len(errors) == 1:
            raise errors[0]
        raise CodecError(f"expected {_describe(hint)}, got {_kind(data)}")

    def _record(self, kind: type[Any], data: object) -> Any:
        if not isinstance(data, Mapping):
            raise CodecError(f"expected an object ({kind.__name__}), got {_kind(data)}")
        view = self.views.get(kind)
        fields = view.read(data) if view is not None and view.read is not None else data
        values: dict[str, Any] = {}
        for name, hint, required in _fields(kind):
            if name in fields:
                values[name] = self._at(hint, fields[name], name)
            elif required:
                raise CodecError(f"missing {name!r} ({kind.__name__})")
        try:
            return kind(**values)
        except (TypeError, ValueError) as exc:
            raise CodecError(f"not a valid {kind.__name__}: {exc}") from None

    def _tuple(self, hint: Any, data: object) -> tuple[Any, ...]:
        items = self._array(data)
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(self._at(args[0], value, f"[{i}]") for i, value in enumerate(items))
        if len(items) != len(args):
            raise CodecError(f"expected an array of {len(args)}, got {len(items)} item(s)")
        return tuple(
            self._at(a, value, f"[{i}]")
            for i, (a, value) in enumerate(zip(args, items, strict=True))
        )

    @staticmethod
    def _array(data: object) -> Sequence[Any]:
        if not isinstance(data, list | tuple):
            raise CodecError(f"expected an array, got {_kind(data)}")
        return data

    def _mapping(self, hint: Any, data: object) -> dict[str, Any]:
        if not isinstance(data, Mapping):
            raise CodecError(f"expected an object, got {_kind(data)}")
        key_hint, item_hint = typing.get_args(hint) or (str, Any)
        if key_hint is not str:
            raise CodecError(f"cannot decode mappings with {key_hint!r} keys")
        out: dict[str, Any] = {}
        for key, value in data.items():
            if not isinstance(key, str):
                raise CodecError(f"expected string keys, got {key!r}")
            out[key] = self._at(item_hint, value, f"[{key!r}]")
        return out

    @staticmethod
    def _scalar(kind: type[Any], data: object) -> Any:
        if kind is bool:
            ok = isinstance(data, bool)
        elif kind is str:
            ok = isinstance(data, str)
        else:  # int, float: numbers, but not true/false
            ok = isinstance(data, int | float) and not isinstance(data, bool)
            if ok and kind is int and isinstance(data, float):
                ok = data.is_integer()
        if not ok:
            raise CodecError(f"expected {_SCALARS[kind]}, got {_kind(data)}")
        return kind(data)


def _describe(hint: Any) -> str:
    names = [getattr(a, "__name__", repr(a)) for a in typing.get_args(hint)]
    return " or ".join(names)


CODEC = Codec()
"""The canonical codec: every record as its fields (what the history stores)."""


def encode(value: object) -> Plain:
    """``value`` in the canonical plain form (:data:`CODEC`)."""
    return CODEC.encode(value)


def decode(kind: type[T], data: object, where: str = "") -> T:
    """A ``kind`` from the canonical plain form (:data:`CODEC`); :class:`CodecError` if not."""
    return CODEC.decode(kind, data, where)
