"""Declared rules: the code marshmallow runs beyond the fields' own validators.

A hook (``@validates_schema``, ``@validates``, ``@pre_load``, ``@post_load``, ``@pre_dump``,
``@post_dump``), a schema that overrides marshmallow's machinery, or a field type with its own
``_deserialize`` is code that neither the compatibility check nor the JSON Schema export can
read. Each must therefore say what it does, under a stable id, so that the check notices a newer
version adding or changing one and the export lists what it does not express. Whatever is not
declared is reported as something nobody can judge, never guessed at.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from marshmallow import Schema, fields

RULE_ATTRIBUTE = "__payevents_rule__"
CHECK_HOOKS = frozenset({"validates", "validates_schema"})

HookFunction = TypeVar("HookFunction", bound=Callable[..., Any])
FieldClass = TypeVar("FieldClass", bound=type[fields.Field[Any]])


@dataclass(frozen=True)
class RuleDeclaration:
    """What the author says a piece of code enforces.

    ``loosening`` (hooks only) claims that the rule refuses nothing older producers could have
    written (once upcast) and changes no value as it is read. The check trusts the claim, as it
    trusts an upcaster's ``touches``; a behavioural test should prove it.
    ``expressed`` (field types only) says that the JSON Schema the export writes for the field
    already says all the rule does, so the document need not list it.
    """

    id: str
    description: str
    loosening: bool = False
    expressed: bool = False


def schema_rule(
    rule_id: str, description: str, *, loosening: bool = False
) -> Callable[[HookFunction], HookFunction]:
    """Declare the marshmallow hook this decorates (above or below marshmallow's decorator).

    Keep ``rule_id`` while the code stays the same; the check compares the code of rules with
    the same id across versions and reports any change that is not marked ``loosening``.
    """
    declaration = RuleDeclaration(rule_id, description, loosening=loosening)

    def declare(function: HookFunction) -> HookFunction:
        setattr(function, RULE_ATTRIBUTE, declaration)
        return function

    return declare


def field_type_rule(
    rule_id: str, description: str, *, expressed: bool = False
) -> Callable[[FieldClass], FieldClass]:
    """Declare what a field class that overrides marshmallow's field methods enforces."""
    declaration = RuleDeclaration(rule_id, description, expressed=expressed)

    def declare(field_class: FieldClass) -> FieldClass:
        setattr(field_class, RULE_ATTRIBUTE, declaration)
        return field_class

    return declare


@dataclass(frozen=True)
class SchemaRule:
    """One declared hook of a schema class, as the check and the export see it."""

    id: str
    description: str
    hooks: tuple[str, ...]
    loosening: bool
    fingerprint: Hashable = dataclasses.field(repr=False)

    @property
    def only_checks(self) -> bool:
        """True when the rule only refuses data: it never rewrites what is read."""
        return all(hook.split("(")[0] in CHECK_HOOKS for hook in self.hooks)


@dataclass(frozen=True)
class ScannedRules:
    declared: tuple[SchemaRule, ...]
    undeclared: tuple[str, ...]


def schema_rules(schema: Schema) -> ScannedRules:
    """The hooks of ``schema``'s own class (not of nested schemas) and what is undeclared."""
    schema_class = type(schema)
    declared: list[SchemaRule] = []
    undeclared = list(_overrides(schema_class, Schema, _SCHEMA_ATTRIBUTES_THAT_CHANGE_NOTHING))
    hooked = _hooks_by_method(schema_class)
    for name, hooks in sorted(hooked.items()):
        function = inspect.getattr_static(schema_class, name)
        declaration = getattr(function, RULE_ATTRIBUTE, None)
        labels = tuple(label for label, _ in hooks)
        if not isinstance(declaration, RuleDeclaration):
            undeclared.append(
                f"{schema_class.__name__}.{name} ({', '.join(labels)}) is not declared: "
                "give it @schema_rule(id, description)"
            )
            continue
        declared.append(
            SchemaRule(
                declaration.id,
                declaration.description,
                labels,
                declaration.loosening,
                (tuple(hooks), code_fingerprint(function)),
            )
        )
    for name in dir(schema_class):
        value = inspect.getattr_static(schema_class, name)
        if name not in hooked and isinstance(getattr(value, RULE_ATTRIBUTE, None), RuleDeclaration):
            undeclared.append(
                f"{schema_class.__name__}.{name} declares a rule that marshmallow never runs "
                "(no hook decorator)"
            )
    ids = [rule.id for rule in declared]
    undeclared.extend(
        f"{schema_class.__name__}: rule id {rule_id!r} is declared twice"
        for rule_id in sorted({rule_id for rule_id in ids if ids.count(rule_id) > 1})
    )
    return ScannedRules(tuple(declared), tuple(undeclared))


def field_type_rule_of(field: fields.Field[Any]) -> tuple[RuleDeclaration | None, list[str]]:
    """The declaration that covers the field's class, and the overrides nobody declared.

    A declaration speaks for its class and everything it inherits; a subclass that overrides a
    method again must declare again.
    """
    undeclared: list[str] = []
    for klass in _outside_marshmallow(type(field)):
        declaration = vars(klass).get(RULE_ATTRIBUTE)
        if isinstance(declaration, RuleDeclaration):
            return declaration, undeclared
        base = marshmallow_base(klass)
        overridden = [
            name
            for name, value in vars(klass).items()
            if name not in _FIELD_METHODS_THAT_CHANGE_NOTHING
            and hasattr(base, name)
            and _is_behaviour(value)
        ]
        if overridden:
            undeclared.append(
                f"field type {klass.__name__} overrides {', '.join(sorted(overridden))} "
                "without declaring what it enforces: give it @field_type_rule(id, description)"
            )
    return None, undeclared


def code_fingerprint(function: Any) -> Hashable:
    """What a function does, as far as its own code shows: equal for equal code.

    Line numbers are left out so that moving a rule is not a change; the functions it calls are
    not followed, so a rule should keep its logic in its own body.
    """
    target = function.__func__ if isinstance(function, classmethod | staticmethod) else function
    code = getattr(target, "__code__", None)
    if not isinstance(code, types.CodeType):
        return repr(target)
    cells = tuple(repr(cell.cell_contents) for cell in target.__closure__ or ())
    return (_code_shape(code), repr(target.__defaults__), repr(target.__kwdefaults__), cells)


def _code_shape(code: types.CodeType) -> Hashable:
    constants = tuple(
        _code_shape(constant) if isinstance(constant, types.CodeType) else repr(constant)
        for constant in code.co_consts
    )
    return (code.co_code, code.co_names, code.co_varnames, code.co_freevars, constants)


def _hooks_by_method(schema_class: type[Schema]) -> dict[str, list[tuple[str, Hashable]]]:
    hooked: dict[str, list[tuple[str, Hashable]]] = {}
    for tag, entries in schema_class._hooks.items():
        for name, many, options in entries:
            label = tag
            if tag == "validates":
                label = f"validates({', '.join(options['field_names'])})"
            if many:
                label += "[pass_collection]"
            hooked.setdefault(name, []).append((label, repr(sorted(options.items()))))
    return hooked


_SCHEMA_ATTRIBUTES_THAT_CHANGE_NOTHING = frozenset(
    {
        "Meta",
        "__abstractmethods__",
        "__annotations__",
        "__dict__",
        "__doc__",
        "__module__",
        "__weakref__",
        "_abc_impl",
        "_declared_fields",
        "_hooks",
        "error_messages",
        "opts",
    }
)
_FIELD_METHODS_THAT_CHANGE_NOTHING = frozenset({"__init__", "__repr__"})


def _overrides(klass: type[Any], base: type[Any], harmless: frozenset[str]) -> Iterator[str]:
    for own in _outside_marshmallow(klass):
        for name in sorted(vars(own)):
            if name in vars(base) and name not in harmless:
                yield (
                    f"{own.__name__} overrides marshmallow's Schema.{name}: the check cannot "
                    "judge what that changes"
                )


def _outside_marshmallow(klass: type[Any]) -> list[type[Any]]:
    """The classes between ``klass`` and the first one marshmallow defines, in MRO order."""
    own: list[type[Any]] = []
    for candidate in klass.__mro__:
        if _from_marshmallow(candidate):
            break
        own.append(candidate)
    return own


def marshmallow_base(klass: type[Any]) -> type[Any]:
    """The first class in ``klass``'s MRO that marshmallow itself defines."""
    return next(base for base in klass.__mro__ if _from_marshmallow(base))


def _from_marshmallow(klass: type[Any]) -> bool:
    return klass.__module__.split(".")[0] == "marshmallow"


def _is_behaviour(value: Any) -> bool:
    return callable(value) or isinstance(value, classmethod | staticmethod | property)
