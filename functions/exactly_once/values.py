"""``Value``: the base of the layer's small immutable types (``Add``, ``Decision``, ...).

A subclass declares its fields as annotations, with defaults where it wants them, exactly
as a frozen dataclass does, and gets the same behaviour: an ``__init__`` taking the fields
in order or by name, then ``__post_init__`` if it has one; ``==`` and ``hash`` over the
fields; a ``repr`` naming them; ``FrozenInstanceError`` on assignment; ``__match_args__``.
Type checkers see it as a frozen dataclass (``dataclass_transform``). It is not one for
the ``dataclasses`` module's functions: copy with ``copy.replace`` (Python 3.13+) or this
module's ``replace``.

Why not ``@dataclass`` itself: it writes each class's ``__init__``, ``__repr__``,
``__eq__``, ``__hash__`` and frozen ``__setattr__``/``__delattr__`` as source text and
compiles them while the module is imported, about 0.6 ms per class on these machines.
Across the layer's classes that was most of what its own modules cost a cold start, which
Lambda pays on every new container (``python -m bench``, "handler cold start"). Here the
methods are shared functions that read the class's field names, found once from its
annotations when the class is created: nothing is compiled at import.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import FrozenInstanceError
from typing import Any, ClassVar, TypeVar, dataclass_transform

_MISSING = object()
_MUTABLE_DEFAULTS = (list, dict, set, bytearray)

V = TypeVar("V", bound="Value")


class _EmptyMapping(dict[str, Any]):
    """An empty dict that refuses to change: the default of a mapping field, shared by
    every instance. Being a dict, it still pickles, copies and serializes as ``{}``."""

    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("this empty mapping is a shared default and cannot change")

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse


EMPTY: Mapping[str, Any] = _EmptyMapping()


class _FieldSignature:
    """A Value class's ``__signature__``: its fields as ``__init__`` takes them, for
    ``inspect.signature``, ``help`` and editors. Built when asked, never at import."""

    def __get__(self, instance: Any, owner: type[Value]) -> inspect.Signature | None:
        if instance is not None:
            return None  # an instance is not callable: inspect goes on as usual
        below_value = owner.__mro__[: owner.__mro__.index(Value)]
        if any("__init__" in c.__dict__ or "__new__" in c.__dict__ for c in below_value):
            return None  # a constructor of its own: inspect reads that one
        annotations: dict[str, Any] = {}
        for base in reversed(owner.__mro__):
            if issubclass(base, Value):
                annotations.update(inspect.get_annotations(base))
        return inspect.Signature(
            [
                inspect.Parameter(
                    name,
                    inspect.Parameter.POSITIONAL_OR_KEYWORD,
                    default=owner._defaults.get(name, inspect.Parameter.empty),
                    annotation=annotations.get(name, inspect.Parameter.empty),
                )
                for name in owner._fields
            ]
        )


@dataclass_transform(eq_default=True, frozen_default=True)
class Value:
    """Base of an immutable value type; see the module's docstring."""

    _fields: ClassVar[tuple[str, ...]] = ()
    _defaults: ClassVar[dict[str, Any]] = {}
    __signature__ = _FieldSignature()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        names: list[str] = []
        defaults: dict[str, Any] = {}
        for base in reversed(cls.__mro__[1:]):  # a base's fields come first, as a dataclass's
            if issubclass(base, Value):
                names.extend(n for n in base._fields if n not in names)
                defaults.update(base._defaults)
        for name, annotation in inspect.get_annotations(cls).items():
            if "ClassVar" in str(annotation):
                continue
            if name not in names:
                names.append(name)
            if name in cls.__dict__:
                default = cls.__dict__[name]
                if isinstance(default, _MUTABLE_DEFAULTS) and default is not EMPTY:
                    raise ValueError(
                        f"{cls.__qualname__}.{name}: a mutable default ({type(default).__name__}) "
                        "would be shared by every instance; use an immutable one"
                    )
                defaults[name] = default
        seen_default = ""
        for name in names:
            if name in defaults:
                seen_default = name
            elif seen_default:
                raise TypeError(
                    f"{cls.__qualname__}: field {name!r} without a default follows "
                    f"{seen_default!r}, which has one"
                )
        cls._fields = tuple(names)
        cls._defaults = defaults
        cls.__match_args__ = cls._fields  # type: ignore[attr-defined,misc]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        fields = self._fields
        if len(args) > len(fields):
            raise TypeError(
                f"{type(self).__qualname__}() takes {len(fields)} positional arguments, "
                f"got {len(args)}"
            )
        values = dict(zip(fields, args, strict=False))
        for name, value in kwargs.items():
            if name in values:
                raise TypeError(f"{type(self).__qualname__}() got two values for {name!r}")
            if name not in fields:
                raise TypeError(f"{type(self).__qualname__}() has no field {name!r}")
            values[name] = value
        if len(values) < len(fields):
            for name in fields:
                if name not in values:
                    values[name] = self._defaults.get(name, _MISSING)
            missing = [name for name, value in values.items() if value is _MISSING]
            if missing:
                raise TypeError(
                    f"{type(self).__qualname__}() is missing {', '.join(map(repr, missing))}"
                )
        self.__dict__.update(values)
        post_init = getattr(self, "__post_init__", None)
        if post_init is not None:
            post_init()

    def _values(self) -> tuple[Any, ...]:
        held = self.__dict__
        return tuple([held[name] for name in self._fields])

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        held = self.__dict__
        fields = ", ".join(f"{name}={held[name]!r}" for name in self._fields)
        return f"{type(self).__qualname__}({fields})"

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __replace__(self: V, **changes: Any) -> V:
        """``copy.replace(value, **changes)`` (Python 3.13+), as for a dataclass."""
        return replace(self, **changes)


def replace(value: V, **changes: Any) -> V:
    """A copy of ``value`` with ``changes`` (``dataclasses.replace`` for a ``Value``)."""
    held = value.__dict__
    return type(value)(**{**{name: held[name] for name in value._fields}, **changes})
