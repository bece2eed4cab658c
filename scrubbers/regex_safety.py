"""A static check for custom regexes that could backtrack exponentially (policy custom
recognizers), refused at load time rather than left to hang an analysis."""

from __future__ import annotations

import re
from typing import Any


def catastrophic_backtracking(pattern: str) -> str | None:
    """Why `pattern` can backtrack exponentially, or None. A conservative static check.

    Presidio runs pattern recognizers with a 60 s timeout and then skips them silently; a
    custom regex such as `(a|aa)+$` or `(a+)+$` would hang every analysis that long and then
    miss its entity. Refused: a repeat that can match more than once around a body holding
    another repeat (`(a+)+`, `(\\d*)*`), or alternatives that can start with the same
    character (`(a|aa)+`). Patterns that pass can still be slow (`\\d*\\d*\\d*x`): the engine
    also runs custom regexes with a timeout that fails loudly (scrubbers/recognizers).
    """
    try:
        parsed = re._parser.parse(pattern)  # type: ignore[attr-defined]
    except (re.error, RecursionError):
        return None  # the compile check reports a broken pattern
    c = re._constants  # type: ignore[attr-defined]
    repeats = (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT)

    def items(node: Any) -> list[tuple[Any, Any]]:
        return list(node.data) if hasattr(node, "data") else list(node)

    def children(op: Any, av: Any) -> list[Any]:
        if op in repeats:
            return [av[2]]
        if op is c.SUBPATTERN:
            return [av[-1]]
        if op is c.BRANCH:
            return list(av[1])
        if op in (c.ASSERT, c.ASSERT_NOT):
            return [av[1]]
        return []

    def has_repeat(node: Any) -> bool:
        for op, av in items(node):
            if op in repeats and av[1] > av[0]:  # a variable count: there is a choice
                return True
            if any(has_repeat(ch) for ch in children(op, av)):
                return True
        return False

    def first_chars(node: Any) -> set[Any] | None:
        """The literal a branch alternative must start with; None if not a single literal."""
        seq = items(node)
        while seq and seq[0][0] is c.SUBPATTERN:
            seq = items(seq[0][1][-1])
        if seq and seq[0][0] is c.LITERAL:
            return {seq[0][1]}
        return None

    def overlapping_branch(node: Any) -> bool:
        for op, av in items(node):
            if op is c.BRANCH:
                seen: set[Any] = set()
                for alt in av[1]:
                    first = first_chars(alt)
                    if first is None or first & seen:
                        return True
                    seen |= first
            if any(overlapping_branch(ch) for ch in children(op, av) if op not in repeats):
                return True
        return False

    def check(node: Any) -> str | None:
        for op, av in items(node):
            # Only a repeat that can go round many times multiplies the choices inside it.
            if op in repeats and av[1] > 10:
                body = av[2]
                if has_repeat(body):
                    return "a repeated group holds another repeat"
                if overlapping_branch(body):
                    return "a repeated group holds alternatives that can match the same text"
            for ch in children(op, av):
                found = check(ch)
                if found:
                    return found
        return None

    return check(parsed)
