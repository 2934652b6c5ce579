"""``Value``: the layer's immutable types behave as frozen dataclasses, without compiling."""

from __future__ import annotations

import copy
import inspect
import json
import pickle
from dataclasses import FrozenInstanceError

import pytest

import exactly_once
from exactly_once import Add, Decision, Outcome, PutIfAbsent, Take
from exactly_once.values import Value, replace


class Point(Value):
    x: int
    y: int = 0
    label: str = ""

    def __post_init__(self) -> None:
        if self.x < 0:
            raise ValueError("x must not be negative")


def test_fields_by_position_or_name_with_defaults() -> None:
    assert Point(1, 2).y == 2
    assert Point(x=1).y == 0
    assert Point(1, label="a").label == "a"
    assert Point.__match_args__ == ("x", "y", "label")


def test_equal_and_hashed_by_value_and_only_within_one_class() -> None:
    assert Point(1, 2) == Point(x=1, y=2)
    assert Point(1, 2) != Point(2, 1)
    assert hash(Point(1, 2, "a")) == hash(Point(1, 2, "a"))
    assert len({Point(1), Point(1), Point(2)}) == 2

    class Other(Value):
        x: int
        y: int = 0
        label: str = ""

    assert Point(1) != Other(1)


def test_repr_names_the_fields() -> None:
    assert repr(Point(1, 2, "a")) == "Point(x=1, y=2, label='a')"


def test_frozen() -> None:
    point = Point(1)
    with pytest.raises(FrozenInstanceError):
        point.x = 2  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        del point.x  # type: ignore[misc]


def test_post_init_checks_the_values() -> None:
    with pytest.raises(ValueError, match="negative"):
        Point(-1)
    with pytest.raises(ValueError, match="must not be negative"):
        Take("inv", {"sku": "a"}, "stock", -1)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {}, "missing 'x'"),
        ((1, 2, "a", 4), {}, "takes 3 positional arguments, got 4"),
        ((1,), {"x": 2}, "two values for 'x'"),
        ((1,), {"z": 2}, "has no field 'z'"),
    ],
)
def test_wrong_arguments_are_refused_as_a_dataclass_would(
    args: tuple[object, ...], kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        Point(*args, **kwargs)


def test_every_missing_field_is_named() -> None:
    with pytest.raises(TypeError, match="missing 'table', 'key', 'amounts'"):
        Add()  # type: ignore[call-arg]


def test_a_mutable_default_or_a_required_field_after_a_default_is_refused() -> None:
    with pytest.raises(ValueError, match="mutable default"):

        class Shared(Value):
            items: list[int] = []

    with pytest.raises(TypeError, match="'b' without a default follows 'a'"):

        class Misordered(Value):
            a: int = 0
            b: int


def test_replace_copies_with_changes_and_checks_again() -> None:
    point = Point(1, 2, "a")
    assert replace(point, y=5) == Point(1, 5, "a")
    assert point.y == 2
    with pytest.raises(ValueError, match="negative"):
        replace(point, x=-1)


def test_copies_pickles_and_serializes_with_the_shared_empty_default() -> None:
    put = PutIfAbsent("t", {"k": "a"})
    assert pickle.loads(pickle.dumps(put)) == put
    assert copy.deepcopy(put) == put and copy.copy(put) == put
    assert json.dumps(put.attributes) == "{}" and repr(put.attributes) == "{}"
    with pytest.raises(TypeError, match="cannot change"):
        put.attributes["x"] = 1  # type: ignore[index]
    assert PutIfAbsent("t", {"k": "b"}).attributes == {}


def test_copy_replace_works_as_for_a_dataclass() -> None:
    # copy.replace (Python 3.13+) calls __replace__; called directly on older versions.
    assert Point(1, 2).__replace__(label="b") == Point(1, 2, "b")


def test_the_layers_types_keep_their_dataclass_behaviour() -> None:
    assert Add("t", {"k": "a"}, {"n": 1}) == Add("t", {"k": "a"}, {"n": 1})
    assert PutIfAbsent("t", {"k": "a"}).attributes == {}
    decision = Decision(Outcome.PROCESSED, "r")
    assert (decision.reason, decision.downstream) == ("", ())
    assert hash(decision) == hash(Decision(Outcome.PROCESSED, "r"))


def test_the_package_exports_each_name_from_its_module() -> None:
    from exactly_once import _HOMES

    assert sorted(exactly_once.__all__) == sorted(_HOMES)
    for name in exactly_once.__all__:
        assert getattr(exactly_once, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        exactly_once.Nothing  # noqa: B018


def test_the_signature_names_the_fields_for_help_and_editors() -> None:
    # GIVEN a Value class (its fields' annotations are strings, from __future__ annotations)
    # THEN inspect (help, IDEs, autodoc) sees its fields as __init__ takes them
    assert str(inspect.signature(Point)) == "(x: 'int', y: 'int' = 0, label: 'str' = '')"
    assert list(inspect.signature(Add).parameters)[:3] == ["table", "key", "amounts"]
    # AND an instance is not callable: no signature
    with pytest.raises(TypeError):
        inspect.signature(Point(1))


def test_a_value_with_its_own_constructor_shows_that_constructors_signature() -> None:
    class Scaled(Value):
        amount: int

        def __init__(self, amount: int, *, factor: int = 1) -> None:
            super().__init__(amount * factor)

    assert str(inspect.signature(Scaled)) == "(amount: 'int', *, factor: 'int' = 1) -> 'None'"
