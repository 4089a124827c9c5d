"""Frozen attrs models with and without slots, and the ways to build them: instructions to
build one and memory per object, the two figures the models' layout is chosen by (issue 23).

    python benchmarks/model_layout.py [--objects 10000] [--calls 2000]

Every layout is rebuilt from the same field definitions as ``bpcpay.models`` (``attrs.make_class``
over each model's own attrs fields, on its base's variant, nested models included) and parsed
by the same generated structure functions (``bpcpay._core._converter``, each way of building
forced with its ``build`` argument), from the benchmark server's 577-byte session.
Instructions are counted by valgrind between the markers of ``_callgrind.py`` (needs
valgrind); memory is what ``tracemalloc`` sees allocated for the models of ``--objects``
sessions kept alive (their decoded JSON, which ``raw`` keeps either way, is allocated before
and not counted), and ``sys.getsizeof`` of one Session."""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import sys
import tracemalloc
import typing
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import attrs
from _callgrind import run_probe
from _harness import Table
from _server import BPC_RAW

from bpcpay.models import Session

#: layout -> (slots, how the generated function builds it: see ``_converter._fill_plan``), and
#: how the table names it.
LAYOUTS = {
    "slots-filler": (
        True,
        "filler",
        "slotted, filled as a plain twin class, then `__class__` assigned (bpcpay's)",
    ),
    "slots-setters": (True, "setters", "slotted, filled through the slots' setters"),
    "slots-init": (True, "init", "slotted, built by attrs' `__init__`"),
    "dict": (False, "dict", "without slots, filled through `__dict__` directly"),
    "dict-init": (False, "init", "without slots, built by attrs' `__init__` (writes `__dict__`)"),
}


def _swap(tp: Any, slots: bool, memo: dict[type, type]) -> Any:
    """``tp`` with every model class in it replaced by its variant."""
    if isinstance(tp, type) and attrs.has(tp):
        return variant(tp, slots, memo)
    args = typing.get_args(tp)
    if args and type(None) in args:
        (inner,) = (a for a in args if a is not type(None))
        return typing.Optional[_swap(inner, slots, memo)]  # noqa: UP045 - built at run time
    return tp


def variant(cls: type, slots: bool, memo: dict[type, type] | None = None) -> type:
    """``cls`` rebuilt as a frozen attrs class with or without slots, from its own fields, on
    the variant of its attrs base class (``Session`` on ``APIObject``'s), as bpcpay's are."""
    memo = {} if memo is None else memo
    if cls not in memo:
        attrs.resolve_types(cls)
        (base,) = cls.__bases__
        bases: tuple[type, ...] = (variant(base, slots, memo),) if attrs.has(base) else ()
        inherited = {f.name for f in attrs.fields(base)} if attrs.has(base) else set()
        these = {
            f.name: attrs.field(
                default=f.default,
                converter=f.converter,
                eq=f.eq,
                repr=f.repr,
                metadata=f.metadata,
                kw_only=True,
                type=_swap(f.type, slots, memo),
            )
            for f in attrs.fields(cls)
            if f.name not in inherited
        }
        built = attrs.make_class(cls.__name__, these, bases=bases, frozen=True, slots=slots)
        # The converter builds structure functions for classes of bpcpay.models.
        built.__module__ = "bpcpay.models._layout"
        memo[cls] = built
    return memo[cls]


def structure_function(layout: str) -> Any:
    """The generated structure function of Session in ``layout``, on a converter of its own."""
    from bpcpay._core._converter import _make_converter, _structure_function

    slots, build, _ = LAYOUTS[layout]
    cls = variant(Session, slots=slots)
    converter = _make_converter()
    # The nested models too: built the same way.
    converter.register_structure_hook_factory(
        lambda tp: isinstance(tp, type) and tp.__module__ == "bpcpay.models._layout",
        lambda tp: _structure_function(tp, converter, build=build),
    )
    return cls, converter.get_structure_hook(cls)


def _probe(layout: str, calls: int) -> None:
    cls, structure = structure_function(layout)
    data = json.loads(BPC_RAW)
    for _ in range(20):
        structure(data, cls)
    sys.getallocatedblocks()  # valgrind zeroes its counters here
    for _ in range(calls):
        structure(data, cls)
    gc.get_freeze_count()  # ... and writes them out here


def memory(layout: str, objects: int) -> tuple[float, int]:
    """Bytes allocated per Session (nested models included, its JSON excluded), and
    ``sys.getsizeof`` of one."""
    cls, structure = structure_function(layout)
    datas = [json.loads(BPC_RAW) for _ in range(objects)]
    structure(json.loads(BPC_RAW), cls)  # nested models' functions are generated on first use
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    models = [structure(data, cls) for data in datas]
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    size = sys.getsizeof(models[0]) + (
        sys.getsizeof(models[0].__dict__) if hasattr(models[0], "__dict__") else 0
    )
    # The list of models is counted too: one pointer per object, the same for both layouts.
    return (after - before) / objects, size


def table(objects: int, calls: int | None) -> Table:
    """The comparison as a table; instructions only when ``calls`` is given and valgrind is
    installed."""
    result = Table(
        "i4. the models' layout: one Session (frozen attrs)",
        ["layout", "instructions to build", "bytes per object", "getsizeof"],
    )
    for layout, (_, _, label) in LAYOUTS.items():
        per_object, size = memory(layout, objects)
        shown = "—"
        if calls is not None and shutil.which("valgrind"):
            command = [sys.executable, __file__, "--probe", layout, str(calls)]
            shown = f"{run_probe(command, functions=False).total / calls:,.0f}"
        result.add(label, shown, f"{per_object:,.0f}", str(size))
    result.note = (
        f"`python benchmarks/model_layout.py`: the same Session (the benchmark's 577-byte "
        f"answer, nested models included) in each layout, parsed by the same generated "
        f"function; bytes per object by tracemalloc over {objects:,} kept Sessions (their JSON, "
        "kept as `raw` either way, not counted)."
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    print(table(args.objects, args.calls).markdown())


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--probe":
        _probe(sys.argv[2], int(sys.argv[3]))
    else:
        main()
