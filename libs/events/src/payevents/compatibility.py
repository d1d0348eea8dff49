"""Proof that every newer version can read what every older version's producers wrote.

Consumers upcast old messages and then validate them against the newer schema, so a change is
backward compatible when, after the upcasters run, nothing an older producer could have written
is rejected. The check is structural (field by field) because it must hold for every message,
not just for the examples a test happens to try. Fields an upcaster declares it touches are
trusted to the upcaster; the behavioural tests of each upcaster cover those.

Code the check cannot read (hooks, custom field types, overridden schema machinery) must be
declared (``payevents.rules``); anything undeclared is reported, in every version, because a
check that skips what it cannot judge would pass exactly the changes it cannot see. A declared
rule that a newer version adds or changes is incompatible unless it is marked ``loosening``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from marshmallow import RAISE, Schema, fields, validate

from payevents.fieldtypes import PARAMETER_VALIDATORS, pattern_flags
from payevents.registry import EventRegistry
from payevents.rules import field_type_rule_of, marshmallow_base, schema_rules
from payevents.schemas import REGISTRY

SCHEMA_LEVEL = "(schema)"


@dataclass(frozen=True)
class CompatibilityProblem:
    """One reason a version cannot read an older one; equal versions mark a problem of one
    version alone: code in it that the check cannot judge."""

    event_type: str
    older_version: int
    newer_version: int
    field: str
    problem: str

    def __str__(self) -> str:
        versions = f"v{self.newer_version}"
        if self.older_version != self.newer_version:
            versions = f"v{self.older_version} -> {versions}"
        return f"{self.event_type} {versions}: {self.field}: {self.problem}"


def compatibility_problems(registry: EventRegistry = REGISTRY) -> list[CompatibilityProblem]:
    """Every problem across the registry; an empty list means every type is compatible."""
    return [
        problem
        for event_type in registry.types()
        for problem in check_backward_compatible(event_type, registry)
    ]


def check_backward_compatible(
    event_type: str, registry: EventRegistry = REGISTRY
) -> list[CompatibilityProblem]:
    """Compare every pair of versions (transitive), not only neighbours.

    A consumer one release behind still reads the oldest messages left on a topic, so each
    version must read every version before it, not only its predecessor.
    """
    versions = registry.versions(event_type)
    problems = [
        CompatibilityProblem(event_type, entry.version, entry.version, path, text)
        for entry in versions
        for path, text in _unjudgeable(entry.schema)
    ]
    for newer in versions[1:]:
        for older in versions[: newer.version - 1]:
            trusted: frozenset[str] = frozenset().union(
                *(
                    step.upcaster.touches
                    for step in versions[older.version : newer.version]
                    if step.upcaster is not None
                )
            )
            problems.extend(
                CompatibilityProblem(event_type, older.version, newer.version, path, text)
                for path, text in _compare_schemas(older.schema, newer.schema, trusted)
            )
    return problems


def _wire_fields(schema: Schema) -> dict[str, fields.Field[Any]]:
    return {field.data_key or name: field for name, field in schema.load_fields.items()}


# Field types whose every option that changes what loads is compared below.
_JUDGED_FIELD_TYPES = (fields.String, fields.Integer, fields.Dict, fields.List, fields.Nested)


def _unjudgeable(
    schema: Schema, prefix: str = "", seen: frozenset[type[Schema]] = frozenset()
) -> Iterator[tuple[str, str]]:
    """What the check cannot judge in one version: undeclared code, unknown field types."""
    if type(schema) in seen:
        return
    for text in schema_rules(schema).undeclared:
        yield prefix.removesuffix(".") or SCHEMA_LEVEL, text
    for name, field in _wire_fields(schema).items():
        yield from _unjudgeable_field(field, prefix + name, seen | {type(schema)})


def _unjudgeable_field(
    field: fields.Field[Any], path: str, seen: frozenset[type[Schema]]
) -> Iterator[tuple[str, str]]:
    declared, undeclared = field_type_rule_of(field)
    yield from ((path, text) for text in undeclared)
    if declared is None and marshmallow_base(type(field)) not in _JUDGED_FIELD_TYPES:
        yield path, f"the check cannot judge field type {type(field).__name__}"
    if isinstance(field, fields.Nested):
        yield from _unjudgeable(field.schema, f"{path}.", seen)
    elif isinstance(field, fields.List):
        yield from _unjudgeable_field(field.inner, f"{path}[]", seen)
    elif isinstance(field, fields.Dict):
        for part in ("key_field", "value_field"):
            inner = getattr(field, part)
            if inner is not None:
                yield from _unjudgeable_field(inner, f"{path}{{{part}}}", seen)


def _compare_rules(old: Schema, new: Schema, where: str) -> Iterator[tuple[str, str]]:
    """Declared rules are compared by id and by their code: a new or changed one tightens."""
    older = {rule.id: rule for rule in schema_rules(old).declared}
    newer = {rule.id: rule for rule in schema_rules(new).declared}
    for rule_id, rule in sorted(newer.items()):
        before = older.get(rule_id)
        if rule.loosening or (before is not None and before.fingerprint == rule.fingerprint):
            continue
        change = "adds" if before is None else "changes the code of"
        yield (
            where,
            f"{change} rule {rule_id} ({', '.join(rule.hooks)}: {rule.description}), which "
            "older producers were not held to; mark it loosening=True only if it refuses "
            "nothing they could write",
        )
    for rule_id, rule in sorted(older.items()):
        if rule_id not in newer and not rule.only_checks:
            yield (
                where,
                f"drops rule {rule_id} ({', '.join(rule.hooks)}), which rewrote data as it was "
                "read: the check cannot tell whether older data still reads the same",
            )


def _compare_schemas(
    old: Schema, new: Schema, trusted: frozenset[str], prefix: str = ""
) -> Iterator[tuple[str, str]]:
    old_fields, new_fields = _wire_fields(old), _wire_fields(new)
    for name, new_field in new_fields.items():
        if name in trusted:
            continue
        path = prefix + name
        old_field = old_fields.get(name)
        if old_field is None:
            if new_field.required:
                yield path, "required, but older producers never wrote it and no upcaster adds it"
            continue
        if new_field.required and not old_field.required:
            yield path, "required, but older producers could leave it out"
        yield from _compare_fields(old_field, new_field, path)
    if new.unknown == RAISE:
        for name in sorted(old_fields.keys() - new_fields.keys() - trusted):
            yield prefix + name, "older producers write it, but it is now an unknown field"
    yield from _compare_rules(old, new, prefix.removesuffix(".") or SCHEMA_LEVEL)


def _compare_fields(
    old: fields.Field[Any], new: fields.Field[Any], path: str
) -> Iterator[tuple[str, str]]:
    if type(old) is not type(new):
        yield path, f"type changed from {type(old).__name__} to {type(new).__name__}"
        return
    if old.allow_none and not new.allow_none:
        yield path, "no longer accepts null"
    strict_now = isinstance(new, fields.Integer) and new.strict
    if strict_now and isinstance(old, fields.Integer) and not old.strict:
        yield path, "now rejects integral non-int values"
    yield from ((path, text) for text in _narrowed_validators(old, new))
    if isinstance(old, fields.Nested) and isinstance(new, fields.Nested):
        if old.many != new.many:
            yield path, "changed between one object and a list of objects"
        yield from _compare_schemas(old.schema, new.schema, frozenset(), prefix=f"{path}.")
    elif isinstance(old, fields.List) and isinstance(new, fields.List):
        yield from _compare_fields(old.inner, new.inner, f"{path}[]")
    elif isinstance(old, fields.Dict) and isinstance(new, fields.Dict):
        for part in ("key_field", "value_field"):
            old_part, new_part = getattr(old, part), getattr(new, part)
            if new_part is not None and old_part is None:
                yield path, f"now constrains its {part.removesuffix('_field')}s"
            elif new_part is not None and old_part is not None:
                yield from _compare_fields(old_part, new_part, f"{path}{{{part}}}")


Bound = tuple[float, bool]  # (value, inclusive)


def _narrowed_validators(old: fields.Field[Any], new: fields.Field[Any]) -> Iterator[str]:
    old_rules, new_rules = _rules(old), _rules(new)
    old_enum, new_enum = old_rules.pop("enum", None), new_rules.pop("enum", None)
    if new_enum is not None:
        dropped = set(old_enum) - set(new_enum) if old_enum is not None else None
        if dropped is None:
            yield "now limited to a fixed set of values"
        elif dropped:
            yield f"no longer accepts {sorted(dropped, key=str)}"
    for name in ("minimum", "min_length"):
        if name in new_rules and _lower_tightened(old_rules.get(name), new_rules[name]):
            yield f"{name} raised to {new_rules[name][0]}"
    for name in ("maximum", "max_length"):
        if name in new_rules and _upper_tightened(old_rules.get(name), new_rules[name]):
            yield f"{name} lowered to {new_rules[name][0]}"
    for pattern in sorted(new_rules.get("patterns", set()) - old_rules.get("patterns", set())):
        yield f"must now match {pattern}"
    for opaque in sorted(new_rules.get("opaque", set()) - old_rules.get("opaque", set())):
        yield f"adds a validator the check cannot compare: {opaque}"


def _rules(field: fields.Field[Any]) -> dict[str, Any]:
    rules: dict[str, Any] = {"patterns": set(), "opaque": set()}
    for validator in field.validators:
        if type(validator) not in PARAMETER_VALIDATORS:
            rules["opaque"].add(repr(validator))
        elif isinstance(validator, validate.OneOf):
            rules["enum"] = list(validator.choices)
        elif isinstance(validator, validate.Range):
            if validator.min is not None:
                rules["minimum"] = (validator.min, validator.min_inclusive)
            if validator.max is not None:
                rules["maximum"] = (validator.max, validator.max_inclusive)
        elif isinstance(validator, validate.Length):
            low = validator.equal if validator.equal is not None else validator.min
            high = validator.equal if validator.equal is not None else validator.max
            if low is not None:
                rules["min_length"] = (low, True)
            if high is not None:
                rules["max_length"] = (high, True)
        elif isinstance(validator, validate.Regexp):
            flags = pattern_flags(validator)
            suffix = f", flags={flags}" if flags else ""
            rules["patterns"].add(
                f"{type(validator).__name__}({validator.regex.pattern!s}{suffix})"
            )
    return rules


def _lower_tightened(old: Bound | None, new: Bound) -> bool:
    return old is None or new[0] > old[0] or (new[0] == old[0] and old[1] and not new[1])


def _upper_tightened(old: Bound | None, new: Bound) -> bool:
    return old is None or new[0] < old[0] or (new[0] == old[0] and old[1] and not new[1])
