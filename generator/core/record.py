"""Record classes for the modules `hardcase check` imports, without importing `dataclasses`.

`dataclasses` imports `inspect` (and with it `ast`, `dis`, `tokenize`, ...): tens of milliseconds
at every start, more than the rest of `check`. `record` is the subset of `@dataclass` these
modules use — an `__init__` with defaults and `field(default_factory=..., hash=False)`, `__eq__`,
`__repr__`, and for `frozen=True` immutability and `__hash__` — plus `replace()`. Type checkers see
the real `dataclasses` (the `TYPE_CHECKING` branch), so the classes are typed exactly as dataclasses.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy treats the name the same way
if TYPE_CHECKING:
    from dataclasses import dataclass as record
    from dataclasses import field, replace
else:
    _MISSING = object()

    class FrozenInstanceError(AttributeError):
        pass

    class _Field:
        __slots__ = ("default", "default_factory", "hash")

        def __init__(self, default=_MISSING, default_factory=_MISSING, hash=None):
            self.default, self.default_factory, self.hash = default, default_factory, hash

    def field(*, default=_MISSING, default_factory=_MISSING, hash=None):
        return _Field(default, default_factory, hash)

    def _frozen_setattr(self, name, value):
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def _frozen_delattr(self, name):
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def record(cls=None, /, *, frozen=False):
        def wrap(cls):
            names = list(cls.__dict__.get("__annotations__", {}))  # noqa: RUF063 - inspect is what we avoid
            specs = {}
            for name in names:
                value = cls.__dict__.get(name, _MISSING)
                if isinstance(value, _Field):
                    specs[name] = value
                    if value.default is _MISSING:
                        delattr(cls, name)
                    else:
                        setattr(cls, name, value.default)
                else:
                    specs[name] = _Field(value)
            namespace = {"_MISSING": _MISSING, "_set": object.__setattr__}
            params, body = [], []
            for name in names:
                spec = specs[name]
                if spec.default_factory is not _MISSING:
                    namespace[f"_factory_{name}"] = spec.default_factory
                    params.append(f"{name}=_MISSING")
                    body.append(f"if {name} is _MISSING: {name} = _factory_{name}()")
                elif spec.default is not _MISSING:
                    namespace[f"_default_{name}"] = spec.default
                    params.append(f"{name}=_default_{name}")
                else:
                    params.append(name)
                body.append(f"_set(self, {name!r}, {name})" if frozen else f"self.{name} = {name}")
            source = f"def __init__(self, {', '.join(params)}):\n    " + "\n    ".join(body or ["pass"]) + "\n"
            exec(source, namespace)  # noqa: S102 - generated from the class's own field names, as dataclasses does
            init = namespace["__init__"]
            init.__qualname__ = f"{cls.__qualname__}.__init__"
            cls.__init__ = init
            hashed = tuple(n for n in names if specs[n].hash is not False)

            def __eq__(self, other):
                if other.__class__ is not self.__class__:
                    return NotImplemented
                return all(getattr(self, n) == getattr(other, n) for n in names)

            def __repr__(self):
                return f"{cls.__qualname__}({', '.join(f'{n}={getattr(self, n)!r}' for n in names)})"

            cls.__eq__, cls.__repr__ = __eq__, __repr__
            cls.__record_fields__ = tuple(names)
            if frozen:
                cls.__setattr__, cls.__delattr__ = _frozen_setattr, _frozen_delattr
                cls.__hash__ = lambda self: hash(tuple(getattr(self, n) for n in hashed))
            else:
                cls.__hash__ = None
            return cls

        return wrap if cls is None else wrap(cls)

    def replace(obj, /, **changes):
        values = {name: getattr(obj, name) for name in obj.__record_fields__}
        unknown = set(changes) - set(values)
        if unknown:
            raise TypeError(f"{type(obj).__name__} has no field(s) {', '.join(sorted(unknown))}")
        return obj.__class__(**{**values, **changes})

__all__ = ["field", "record", "replace"]
