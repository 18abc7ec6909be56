"""Registry: names -> objects, the one lookup pattern of the runner and the benchmarks.

Methods, models, datasets and noise kinds are each a :class:`Registry`; a new entry
registers itself with a decorator and every tool (the ``keras-mr`` runner, the benchmark
scripts) looks names up the same way, with the same error for an unknown name.
"""


class Registry:
    """Names (and aliases) mapped to objects, with errors that list the choices.

    Args:
        kind: what is registered, for messages (e.g. ``"method"``).

    Example:

    >>> noises = Registry("noise")
    >>> @noises.register("symmetric", aliases=("sym",))
    ... def symmetric(labels):
    ...     return labels
    >>> noises.get("sym") is symmetric, noises.names()
    (True, ['symmetric'])
    >>> noises.get("pairs")
    Traceback (most recent call last):
    ...
    ValueError: Unknown noise 'pairs'; choose one of ['symmetric'] (aliases: ['sym']).
    """

    def __init__(self, kind):
        self.kind = kind
        self._entries = {}
        self._aliases = {}

    def register(self, name, obj=None, aliases=()):
        """Registers ``obj`` under ``name`` (and ``aliases``); usable as a decorator.

        Raises:
            ValueError: ``name`` or an alias is already taken.
        """

        def add(target):
            for key in (name, *aliases):
                if key in self._entries or key in self._aliases:
                    raise ValueError(f"{self.kind} {key!r} is already registered.")
            self._entries[name] = target
            self._aliases.update(dict.fromkeys(aliases, name))
            return target

        return add(obj) if obj is not None else add

    def canonical(self, name):
        """The registered name of ``name`` (itself, or what the alias stands for)."""
        key = self._aliases.get(name, name)
        if key not in self._entries:
            aliases = f" (aliases: {sorted(self._aliases)})" if self._aliases else ""
            raise ValueError(
                f"Unknown {self.kind} {name!r}; choose one of {self.names()}{aliases}."
            )
        return key

    def get(self, name):
        """The object registered under ``name`` or one of its aliases."""
        return self._entries[self.canonical(name)]

    def names(self):
        """The registered names, sorted."""
        return sorted(self._entries)

    def pop(self, name):
        """Removes ``name`` (and its aliases) and returns its object."""
        key = self.canonical(name)
        self._aliases = {a: n for a, n in self._aliases.items() if n != key}
        return self._entries.pop(key)

    def __contains__(self, name):
        return self._aliases.get(name, name) in self._entries

    def __iter__(self):
        return iter(self.names())

    def __len__(self):
        return len(self._entries)

    def __getitem__(self, name):
        return self.get(name)
