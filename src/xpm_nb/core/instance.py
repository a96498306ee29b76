"""Value objects: ``config.instance()`` builds what the task code works with."""

from __future__ import annotations

from .objects import ConfigMixin

__all__ = ["build_instance"]


def build_instance(config, *, objects: dict | None = None, keep: bool = True):
    """Build the value object of ``config``; shared configs give shared objects."""
    return _Builder({} if objects is None else objects, keep).build(config)


class _Builder:
    def __init__(self, objects: dict, keep: bool):
        self.objects = objects
        self.keep = keep

    def build(self, config):
        done = self.objects.get(id(config))
        if done is not None:
            return done
        xpmtype = config.__xpmtype__
        value_cls = xpmtype.value_type
        obj = object.__new__(value_cls)
        # Registered before its fields so that cycles end on the same object.
        self.objects[id(config)] = obj
        d = config.__dict__
        od = obj.__dict__
        for name in xpmtype.arguments:
            if name in d:
                od[name] = self.convert(d[name])
        if self.keep:
            od["__config__"] = config
        init = value_cls.__init__
        if init is not object.__init__:
            init(obj)
        obj.__post_init__()
        return obj

    def convert(self, value):
        if isinstance(value, ConfigMixin):
            return self.build(value)
        t = type(value)
        if t is list:
            return [self.convert(v) for v in value]
        if t is dict:
            return {k: self.convert(v) for k, v in value.items()}
        if t is set:
            return {self.convert(v) for v in value}
        return value
