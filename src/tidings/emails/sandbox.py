"""The sandbox a marketer's templates run in, and the bounds on what they may compute.

Jinja's sandbox keeps templates away from Python's internals but lets them compute
without limit: ``{{ 'x' * 50000000 }}``, ``{{ '%0100000000d'|format(1) }}``,
``{{ 2**1000000 }}`` or two nested loops of ``range(100000)`` would take the memory or
the time of the process rendering them. Here every operation that can make something
bigger than what it was given is checked before it runs (``*``, ``**``, ``+``, ``%``,
``~``, ``format``, widths, ``replace``, ``join``, ``range``, ``batch`` ...), every value
it makes is checked after, the text a message renders is counted, and a render that
takes too long stops. A template that goes beyond one of these raises
``TemplateLimitError``: a 422 naming the problem when the email is saved (rendered for
a sample contact), a message not composed for that one recipient at send time.

Operators are intercepted (``intercepted_binops``), so Jinja cannot fold them into
constants when it compiles a template; the loops and ``~`` of a template are rewritten
to go through the checks (``_Bounds``).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps
from string import Formatter
from typing import Any, cast

from jinja2 import Template, nodes
from jinja2.runtime import Context, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import generate_lorem_ipsum
from jinja2.visitor import NodeTransformer

MAX_TEXT = 1_000_000  # characters of any text a template makes
MAX_ITEMS = 100_000  # items of any list or range a template makes
MAX_INT_BITS = 4096  # bits of any integer a template makes (about 1,233 digits)
MAX_OUTPUT = 4_000_000  # characters one message renders, all its parts together
MAX_SECONDS = 1.0  # time to render one message
_CHECK_EVERY = 64  # operations between two looks at the clock

_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")


class TemplateLimitError(Exception):
    """A template went beyond what a template may compute."""


def _text_too_long(length: int, how: str) -> TemplateLimitError:
    return TemplateLimitError(
        f"{how} would make a text of {length:,} characters (at most {MAX_TEXT:,})"
    )


class Budget:
    """What rendering one message may still spend: time and characters."""

    __slots__ = ("deadline", "produced", "seconds", "ticks")

    def __init__(self, seconds: float = math.inf) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.produced = 0
        self.ticks = 0

    def tick(self) -> None:
        """One more operation; stops the render once its time is up."""
        self.ticks += 1
        if self.ticks % _CHECK_EVERY == 0 and time.monotonic() > self.deadline:
            raise TemplateLimitError(f"rendering takes more than {self.seconds:g} s")

    def produce(self, pieces: Iterable[str]) -> str:
        """Join rendered pieces, counting them against the message's limit as they
        come (loops and calls look at the clock)."""
        out: list[str] = []
        left = MAX_OUTPUT - self.produced
        for piece in pieces:
            left -= len(piece)
            if left < 0:
                raise TemplateLimitError(
                    f"one message would be more than {MAX_OUTPUT:,} characters long"
                )
            out.append(piece)
        self.produced = MAX_OUTPUT - left
        return "".join(out)


_CURRENT: ContextVar[Budget | None] = ContextVar("template_budget", default=None)


def current_budget() -> Budget:
    # Outside a message (Jinja folding constants while compiling) sizes are checked,
    # the clock is not.
    return _CURRENT.get() or Budget()


@contextmanager
def message_budget(seconds: float = MAX_SECONDS) -> Iterator[Budget]:
    """Render one message's parts within this budget."""
    budget = Budget(seconds)
    token = _CURRENT.set(budget)
    try:
        yield budget
    finally:
        _CURRENT.reset(token)


def _check_length(length: int, how: str, *, items: bool = False) -> None:
    limit = MAX_ITEMS if items else MAX_TEXT
    if length > limit:
        if items:
            raise TemplateLimitError(f"{how} would make {length:,} items (at most {MAX_ITEMS:,})")
        raise _text_too_long(length, how)


def _check_bits(bits: int, how: str) -> None:
    if bits > MAX_INT_BITS:
        raise TemplateLimitError(
            f"{how} would make a number of about {int(bits * math.log10(2)):,} digits "
            f"(at most {int(MAX_INT_BITS * math.log10(2)):,})"
        )


def checked(value: Any, how: str) -> Any:
    """``value`` if it is within the limits of what a template may make."""
    if isinstance(value, str):
        _check_length(len(value), how)
    elif isinstance(value, list | tuple):
        _check_length(len(value), how, items=True)
    elif isinstance(value, int) and not isinstance(value, bool):
        _check_bits(value.bit_length(), how)
    return value


def _is_sequence(value: Any) -> bool:
    return isinstance(value, str | list | tuple)


def _check_width(width: Any, how: str) -> None:
    if isinstance(width, int) and not isinstance(width, bool):
        _check_length(width, how)


def check_percent_format(template: str, args: Any) -> None:
    """Widths and precisions of ``template % args`` within the text limit."""
    star = False
    for match in _PERCENT_SPEC.finditer(template):
        for number in match.groups():
            if number == "*":
                star = True
            elif number is not None:
                _check_length(int(number), f"the format {match.group(0)[:20]!r}")
    if star:
        for arg in args if isinstance(args, tuple) else (args,):
            _check_width(arg, "a '*' width")


def check_format_string(template: str) -> None:
    """Widths and precisions of ``template.format(...)`` within the text limit."""
    for _literal, _field, spec, _conversion in Formatter().parse(template):
        if not spec:
            continue
        if "{" in spec:
            raise TemplateLimitError("a width given by another field is not allowed")
        for number in re.findall(r"\d+", spec):
            _check_length(int(number), f"the format spec {spec[:20]!r}")


def _binop_check(operator: str, left: Any, right: Any) -> None:
    how = f"the operator {operator!r}"
    ints = isinstance(left, int) and isinstance(right, int)
    if operator == "*":
        if _is_sequence(left) and isinstance(right, int):
            _check_length(len(left) * max(right, 0), how, items=not isinstance(left, str))
        elif _is_sequence(right) and isinstance(left, int):
            _check_length(len(right) * max(left, 0), how, items=not isinstance(right, str))
        elif ints:
            _check_bits(left.bit_length() + right.bit_length(), how)
    elif operator == "**":
        if ints and right > 0 and abs(left) > 1:
            _check_bits(math.ceil(right * math.log2(abs(left))), how)
    elif operator == "+":
        if _is_sequence(left) and _is_sequence(right):
            _check_length(len(left) + len(right), how, items=not isinstance(left, str))
    elif operator == "%" and isinstance(left, str):
        check_percent_format(left, right)


def _str_method_check(method: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Check a call of a ``str`` method that can make more than it is given; returns
    the arguments to call it with (an iterable given to ``join`` is read once)."""
    owner, name = method.__self__, method.__name__
    how = f"{name}()"
    if name in ("center", "ljust", "rjust", "zfill") and args:
        _check_width(args[0], how)
    elif name == "expandtabs":
        size = args[0] if args else 8
        if isinstance(size, int):
            _check_length(len(owner) + owner.count("\t") * size, how)
    elif name == "replace" and len(args) >= 2:
        old, new = args[0], args[1]
        if isinstance(old, str) and isinstance(new, str):
            times = owner.count(old) if old else len(owner) + 1
            if len(args) > 2 and isinstance(args[2], int) and args[2] >= 0:
                times = min(times, args[2])
            _check_length(len(owner) + times * (len(new) - len(old)), how)
    elif name == "join" and args:
        items = list(_bounded_iter(args[0]))
        _check_length(
            sum(len(i) for i in items if isinstance(i, str)) + len(owner) * max(len(items) - 1, 0),
            how,
        )
        return (items, *args[1:])
    elif name == "translate" and args and hasattr(args[0], "values"):
        longest = max((len(v) for v in args[0].values() if isinstance(v, str)), default=1)
        _check_length(len(owner) * max(longest, 1), how)
    return args


def _bounded_iter(iterable: Iterable[Any]) -> Iterator[Any]:
    """Iterate, giving the clock a look every few items."""
    budget = current_budget()
    for item in iterable:
        budget.tick()
        yield item


# Filters that can make more than they are given, checked before they run; their
# arguments as the filter receives them after the value (the Jinja context,
# environment or eval context that some take first is left out).
def _pre_format(value: Any, *args: Any, **kwargs: Any) -> None:
    check_percent_format(str(value), kwargs or args)


def _pre_center(value: Any, width: Any = 80, *_: Any, **__: Any) -> None:
    _check_width(width, "center")


def _pre_indent(value: Any, width: Any = 4, *_: Any, **__: Any) -> None:
    lines = str(value).count("\n") + 1
    pad = len(width) if isinstance(width, str) else width
    if isinstance(pad, int):
        _check_length(len(str(value)) + lines * pad, "indent")


def _pre_wordwrap(value: Any, width: Any = 79, *args: Any, **kwargs: Any) -> None:
    wrap = kwargs.get("wrapstring", args[1] if len(args) > 1 else None)
    if isinstance(wrap, str) and isinstance(width, int):
        text = len(str(value))
        _check_length(text + (text // max(width, 1) + 1) * len(wrap), "wordwrap")


def _pre_replace(value: Any, old: Any = "", new: Any = "", count: Any = None) -> None:
    _str_method_check(str(value).replace, (old, new) + (() if count is None else (count,)))


def _pre_batch(value: Any, count: Any = 1, *_: Any, **__: Any) -> None:
    if isinstance(count, int):
        _check_length(count, "batch", items=True)


PRE_CHECKS: dict[str, Callable[..., None]] = {
    "format": _pre_format,
    "center": _pre_center,
    "indent": _pre_indent,
    "wordwrap": _pre_wordwrap,
    "replace": _pre_replace,
    "batch": _pre_batch,
    "slice": _pre_batch,
}


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    skip = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0
    pre = PRE_CHECKS.get(name)

    @wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        current_budget().tick()
        if name == "join" and len(args) > skip:
            items = list(_bounded_iter(args[skip]))
            sep = args[skip + 1] if len(args) > skip + 1 else kwargs.get("d", "")
            _check_length(
                sum(len(str(i)) for i in items) + len(str(sep)) * max(len(items) - 1, 0),
                "join",
            )
            args = (*args[:skip], items, *args[skip + 1 :])
        elif pre is not None:
            pre(*args[skip:], **kwargs)
        return checked(func(*args, **kwargs), f"the filter {name!r}")

    return guarded


def _bounded_range(*args: int) -> range:
    values = range(*args)
    _check_length(len(values), "range()", items=True)
    return values


def _bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    if n * max > MAX_ITEMS:
        raise TemplateLimitError(f"lipsum() would make more than {MAX_ITEMS:,} words")
    return str(generate_lorem_ipsum(n=n, html=html, min=min, max=max))


class _Bounds(NodeTransformer):
    """Send a template's loops and ``~`` through the environment's checks."""

    def __init__(self, autoescape: bool) -> None:
        self.autoescape = autoescape

    @staticmethod
    def _call(name: str, args: list[nodes.Expr], lineno: int) -> nodes.Call:
        target = nodes.EnvironmentAttribute(name, lineno=lineno)
        return nodes.Call(target, args, [], None, None, lineno=lineno)

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = self._call("bounded_loop", [cast(nodes.Expr, node.iter)], node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        flag = nodes.Const(self.autoescape, lineno=node.lineno)
        return self._call("bounded_concat", [flag, *node.nodes], node.lineno)


class BoundedTemplate(Template):
    """A template whose globals are read once, not on every render.

    Jinja copies a template's globals (a chain of its own and the environment's) into
    each new context, walking the chain every time; a message renders several
    templates, and each widget it places is one more. Here they are copied into one
    dictionary on the first render and that is reused: the environment's globals are
    set when it is made and a template's when it is compiled, neither changes after.
    """

    _flat_globals: dict[str, Any] | None = None

    def new_context(
        self,
        vars: dict[str, Any] | None = None,
        shared: bool = False,
        locals: Mapping[str, Any] | None = None,
    ) -> Context:
        """A context of the globals and ``vars``, as Jinja's own (``shared`` or
        ``locals``: Jinja's own)."""
        if shared or locals:
            return super().new_context(vars, shared, locals)
        flat = self._flat_globals
        if flat is None:
            flat = self._flat_globals = dict(self.globals)
        parent = {**flat, **vars} if vars else dict(flat)
        return self.environment.context_class(
            self.environment, parent, self.name, self.blocks, globals=flat
        )


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with the bounds above."""

    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})
    template_class = BoundedTemplate

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters = {name: _guard_filter(name, f) for name, f in self.filters.items()}
        self.globals["range"] = _bounded_range
        self.globals["lipsum"] = _bounded_lipsum

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        bounded = _Bounds(bool(self.autoescape)).visit(tree)
        assert isinstance(bounded, nodes.Template)
        return bounded

    def concat(self, pieces: Iterable[str]) -> str:
        """Join a captured block or macro body, within the limit of one message."""
        items = list(pieces)
        total = sum(len(item) for item in items)
        if total > MAX_OUTPUT:
            raise TemplateLimitError(
                f"a block or macro would render {total:,} characters (at most {MAX_OUTPUT:,})"
            )
        current_budget().tick()
        return "".join(items)

    def bounded_loop(self, iterable: Iterable[Any]) -> Iterator[Any]:
        """A ``{% for %}`` loop's items, with a look at the clock between them."""
        return _bounded_iter(iterable)

    def bounded_concat(self, autoescape: bool, *values: Any) -> str:
        """``a ~ b``, within the text limit."""
        joined = markup_join(values) if autoescape else str_join(values)
        return str(checked(joined, "the operator '~'"))

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """Check, then apply an arithmetic operator."""
        current_budget().tick()
        _binop_check(operator, left, right)
        return checked(
            super().call_binop(context, operator, left, right), f"the operator {operator!r}"
        )

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """Check, then make a call from a template."""
        current_budget().tick()
        if isinstance(getattr(__obj, "__self__", None), str) and callable(__obj):
            args = _str_method_check(__obj, args)
        return checked(super().call(__context, __obj, *args, **kwargs), "a call")

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """``str.format`` with its widths checked."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        template = value.__self__

        @wraps(wrapped)
        def bounded(*args: Any, **kwargs: Any) -> str:
            check_format_string(template)
            return str(checked(wrapped(*args, **kwargs), "format()"))

        return bounded


__all__ = [
    "MAX_INT_BITS",
    "MAX_ITEMS",
    "MAX_OUTPUT",
    "MAX_SECONDS",
    "MAX_TEXT",
    "BoundedSandbox",
    "BoundedTemplate",
    "Budget",
    "TemplateLimitError",
    "current_budget",
    "message_budget",
]
