"""A policy as it takes effect (the default filled in) and the differences between two."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from piizone.scrubbers.policy import Policy


def effective(policy: Policy) -> dict[str, Any]:
    """The policy with every default filled in; switched-off entities as `{enabled: false}`."""
    data = policy.model.model_dump(mode="json", exclude_none=True)
    entities = {name: _without_enabled(rule) for name, rule in data["entities"].items()}
    entities.update({name: {"enabled": False} for name in policy.disabled})
    data["entities"] = dict(sorted(entities.items()))
    return data


def _without_enabled(rule: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rule.items() if k != "enabled"}


@dataclass(frozen=True)
class Change:
    """One setting that differs: its dotted path and its value on each side (None: absent)."""

    path: str
    left: Any
    right: Any

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "left": self.left, "right": self.right}


def diff_policies(left: Policy, right: Policy) -> list[Change]:
    """What differs between two policies as they take effect, setting by setting."""
    changes: list[Change] = []
    _walk(effective(left), effective(right), "", changes)
    return changes


def _walk(left: Any, right: Any, prefix: str, out: list[Change]) -> None:
    if isinstance(left, dict) and isinstance(right, dict):
        for key in sorted(set(left) | set(right), key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in left:
                out.append(Change(path, None, right[key]))
            elif key not in right:
                out.append(Change(path, left[key], None))
            else:
                _walk(left[key], right[key], path, out)
    elif left != right:
        out.append(Change(prefix, left, right))
