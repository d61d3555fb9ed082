"""Logging objects that count their own changes, as every write of the server announces itself
(SPEC §13): what lets a replayed answer check that its lines still reach one handler of ours
alone (identity/logs.py :class:`~identity.logs.Route`) with one comparison, where reading again
everything that was found from cost a third of its observability (docs/operations.md#cost).

A watched object (the logging manager, a logger, a handler of ours) is given a subclass of its
own class, under the same name, whose ``__setattr__`` adds one to :data:`changes` when an
attribute a route is found from is assigned (a level, ``disabled``, ``propagate``, a parent, a
formatter, the lists themselves), and its lists of handlers and filters become
:class:`WatchedList`, which adds one at every change in place (``addHandler``, ``addFilter``,
``handlers[:] = []``). That is every way the standard library and its users change them; only
code that goes around Python's attribute assignment (``object.__setattr__``, writing to
``__dict__``) would not be seen.
"""

from __future__ import annotations

import logging
from typing import Any

changes = 0
"""How many changes the watched objects have seen: a route found when it was ``n`` holds while
it still is."""

_WATCHED_ATTRIBUTES: dict[type, frozenset[str]] = {
    logging.Manager: frozenset({"disable"}),
    logging.Logger: frozenset({"disabled", "level", "parent", "handlers", "filters", "propagate"}),
    logging.Handler: frozenset({"level", "formatter", "filters"}),
}


def changed() -> None:
    """Count one change (two threads counting at once may count one: still a change)."""
    global changes
    changes += 1


class WatchedList(list):
    """A logger's or handler's list of handlers or filters, which counts its changes in place."""


def _counting(name: str):
    method = getattr(list, name)

    def change(self: WatchedList, *args: Any, **kwargs: Any) -> Any:
        changed()
        return method(self, *args, **kwargs)

    change.__name__ = change.__qualname__ = name
    return change


for _name in (
    *("__setitem__", "__delitem__", "__iadd__", "__imul__"),
    *("append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse"),
):
    setattr(WatchedList, _name, _counting(_name))

_watched_classes: dict[type, type] = {}  # a class -> its watched subclass
_watching: set[type] = set()  # the watched subclasses


def watch(each: logging.Manager | logging.Logger | logging.Handler) -> None:
    """Make ``each`` count its changes from now on (nothing when it already does). Watching an
    object counts as a change: what was found from it before may have missed one."""
    cls = type(each)
    if cls in _watching:
        return
    watched = _watched_classes.get(cls)
    if watched is None:
        watched = _watched_classes[cls] = _watched_class(cls)
        _watching.add(watched)
    each.__class__ = watched
    for name in ("handlers", "filters"):
        value = getattr(each, name, None)
        if isinstance(value, list) and not isinstance(value, WatchedList):
            setattr(each, name, WatchedList(value))
    changed()


def _watched_class(cls: type) -> type:
    """``cls``'s subclass, under its name, that counts a change when a watched attribute is set."""
    attributes = next(names for base, names in _WATCHED_ATTRIBUTES.items() if issubclass(cls, base))

    def __setattr__(self: Any, name: str, value: Any) -> None:
        if name in attributes:
            changed()
        super(watched, self).__setattr__(name, value)

    watched = type(cls.__name__, (cls,), {"__setattr__": __setattr__, "__module__": cls.__module__})
    watched.__qualname__ = cls.__qualname__
    return watched
