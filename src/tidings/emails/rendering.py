"""Per-recipient rendering in a Jinja2 sandbox: merge fields, tracked links, plain text."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from jinja2 import ChainableUndefined, Template, TemplateError, Undefined, pass_context
from jinja2.exceptions import SecurityError, TemplateRuntimeError
from jinja2.runtime import Context
from markupsafe import Markup

from tidings.emails import links as link_markup
from tidings.emails import widgets as email_widgets
from tidings.emails.plaintext import html_to_text
from tidings.emails.sandbox import (
    BoundedSandbox,
    TemplateLimitError,
    current_budget,
    message_budget,
)
from tidings.errors import Invalid


class _StrictSandbox(BoundedSandbox):
    """The bounded sandbox, failing loudly on unsafe access instead of rendering
    nothing."""

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        raise SecurityError(f"access to attribute {attribute!r} is not allowed in templates")


_HTML_ENV = _StrictSandbox(autoescape=True, undefined=ChainableUndefined)
_TEXT_ENV = _StrictSandbox(autoescape=False, undefined=ChainableUndefined)

_JINJA_RE = re.compile(r"{{.*?}}|{%.*?%}|{#.*?#}", re.DOTALL)
_TEXT_LINK_RE = re.compile(r"TDGLINK(\d+)X")
_URL_RE = re.compile(r"https?://[^\s<>\"')\]]+", re.IGNORECASE)

SAMPLE_CONTACT: dict[str, Any] = {
    "id": 0,
    "email": "sample@example.com",
    "first_name": "Sample",
    "last_name": "Contact",
    "fields": {},
}


def contact_view(
    *,
    contact_id: int,
    email: str,
    first_name: str | None,
    last_name: str | None,
    fields: dict[str, Any] | None,
) -> dict[str, Any]:
    """What a template sees as ``contact``."""
    return {
        "id": contact_id,
        "email": email,
        "first_name": first_name,
        "last_name": last_name,
        "fields": dict(fields or {}),
    }


def _html_to_text_template(prepared_html: str) -> str:
    """Turn the marked HTML template into a plain-text template, once per email.

    Jinja constructs and tracked hrefs are swapped for placeholders that the
    conversion leaves alone, converted, then put back, so the text keeps merge fields and the
    tracked links of each recipient.
    """
    saved: list[str] = []

    def hide(match: re.Match[str]) -> str:
        saved.append(match.group(0))
        return f"TDGPH{len(saved) - 1:05d}X"

    hidden = _JINJA_RE.sub(hide, prepared_html)
    hidden = re.sub(
        link_markup.MARKER + r"""="(\d+)"\s+href\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)""",
        lambda m: f'href="TDGLINK{m.group(1)}X"',
        hidden,
        flags=re.IGNORECASE,
    )
    text = html_to_text(hidden)
    return re.sub(r"TDGPH(\d{5})X", lambda m: saved[int(m.group(1))], text)


def _compile(
    env: BoundedSandbox,
    source: str,
    what: str,
    globals: Mapping[str, Any] | None = None,
) -> Template:
    try:
        return env.from_string(source, globals=dict(globals or {}))
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        where = f" (line {line})" if line else ""
        raise Invalid(f"{what}: template error{where}: {exc}") from exc
    except (ValueError, RecursionError, MemoryError) as exc:
        # A number literal too long to read, or nesting too deep to compile.
        raise Invalid(f"{what}: template error: {type(exc).__name__}: {exc}") from exc


def render_part(template: Template, **context: Any) -> str:
    """One part of a message, its text counted against the message's budget (call it
    inside ``sandbox.message_budget``)."""
    return current_budget().produce(template.generate(**context))


@dataclass(frozen=True)
class CompiledVariant:
    """One variant of a widget: its condition (B11 JSON) and templates."""

    condition: dict[str, Any]
    html: Template
    text: Template


@dataclass(frozen=True)
class CompiledWidget:
    """A widget's default templates and its variants."""

    html: Template
    text: Template
    variants: tuple[CompiledVariant, ...] = ()


@dataclass
class CompiledEmail:
    """An email's templates, compiled once and rendered for each recipient."""

    subject: Template
    html: Template
    text: Template
    text_mode: str  # "given" by the marketer, "template" derived from HTML, or "convert"
    positions: dict[int, int] = field(default_factory=dict)  # position -> link id
    widgets: dict[str, CompiledWidget] = field(default_factory=dict)


def _no_nested_widget(key: object = None) -> str:
    raise TemplateRuntimeError("a widget cannot place another widget")


_IN_WIDGET: dict[str, Any] = {"widget": _no_nested_widget}


# The variant chosen for the recipient being rendered, by widget key (absent: the
# default). A context variable rather than a template variable: a marketer's template
# cannot read or change it.
_CHOSEN: ContextVar[Mapping[str, int] | None] = ContextVar("tidings_chosen_variants", default=None)


@contextmanager
def _chosen(variants: Mapping[str, int] | None) -> Iterator[None]:
    token = _CHOSEN.set(variants)
    try:
        yield
    finally:
        _CHOSEN.reset(token)


def _pick(widget: CompiledWidget, key: str, html: bool) -> Template:
    chosen = _CHOSEN.get()
    index = chosen.get(key) if chosen else None
    if index is not None and 0 <= index < len(widget.variants):
        variant = widget.variants[index]
        return variant.html if html else variant.text
    return widget.html if html else widget.text


def _widget_function(widgets: dict[str, CompiledWidget], *, html: bool) -> Callable[..., Any]:
    """The ``widget("key")`` global: the recipient's variant of the widget (chosen
    before rendering, see ``render``), else its default, rendered with the caller's
    variables (so merge fields inside widgets work)."""

    @pass_context
    def widget(context: Context, key: object) -> Any:
        found = widgets.get(key) if isinstance(key, str) else None
        if found is None:
            raise TemplateRuntimeError(f"widget {str(key)[:80]!r} is not defined")
        # The caller's variables, but the widget's own ``widget`` (no nesting).
        variables = dict(context.get_all())
        variables.pop("widget", None)
        template = _pick(found, str(key), html)
        env = template.environment
        rendered = env.concat(template.root_render_func(template.new_context(variables)))
        if html:
            return Markup(rendered)  # noqa: S704 - rendered autoescaped
        return rendered

    return widget


def _widget_pair(html: str, text: str | None, what: str) -> tuple[Template, Template]:
    """A widget's HTML template and its plain-text template (the builder's text, else
    one made from the HTML as for the body)."""
    html_t = _compile(_HTML_ENV, html, f"{what}.html", _IN_WIDGET)
    try:
        source = text if text is not None else _html_to_text_template(html)
        text_t = _TEXT_ENV.from_string(source, globals=_IN_WIDGET)
    except TemplateError:
        text_t = _TEXT_ENV.from_string("", globals=_IN_WIDGET)
    return html_t, text_t


def _compile_widgets(prepared: Mapping[str, Mapping[str, Any]]) -> dict[str, CompiledWidget]:
    compiled: dict[str, CompiledWidget] = {}
    for key, entry in prepared.items():
        html_t, text_t = _widget_pair(entry["html"], entry.get("text"), f"widgets.{key}")
        variants = []
        for index, variant in enumerate(entry.get("variants") or []):
            v_html, v_text = _widget_pair(
                variant["html"], variant.get("text"), f"widgets.{key}.variants[{index}]"
            )
            variants.append(CompiledVariant(dict(variant["condition"]), v_html, v_text))
        compiled[key] = CompiledWidget(html_t, text_t, tuple(variants))
    return compiled


@dataclass(frozen=True)
class RenderedMessage:
    """One recipient's subject and bodies, links already rewritten."""

    subject: str
    html: str
    text: str
    destinations: dict[int, str]


def compile_email(
    *,
    subject: str,
    prepared_html: str,
    plain_text: str | None,
    positions: dict[int, int] | None = None,
    widgets: Mapping[str, Mapping[str, Any]] | None = None,
) -> CompiledEmail:
    """Compile an email's templates; ``Invalid`` names the part with a template error.

    ``widgets`` are the email's prepared widgets (``emails.widgets.prepare``).
    """
    compiled_widgets = _compile_widgets(widgets or {})
    html_globals = {"widget": _widget_function(compiled_widgets, html=True)}
    text_globals = {"widget": _widget_function(compiled_widgets, html=False)}
    subject_t = _compile(_TEXT_ENV, subject, "subject")
    html_t = _compile(_HTML_ENV, prepared_html, "html", html_globals)
    if plain_text:
        text_t = _compile(_TEXT_ENV, plain_text, "plain_text", text_globals)
        mode = "given"
    else:
        try:
            text_t = _TEXT_ENV.from_string(
                _html_to_text_template(prepared_html), globals=text_globals
            )
            mode = "template"
        except TemplateError:
            # The conversion split a construct; convert each recipient's HTML instead.
            text_t = _TEXT_ENV.from_string("")
            mode = "convert"
    return CompiledEmail(
        subject=subject_t,
        html=html_t,
        text=text_t,
        text_mode=mode,
        positions=dict(positions or {}),
        widgets=compiled_widgets,
    )


def validate(
    *,
    subject: str,
    html: str,
    plain_text: str | None,
    widgets: Mapping[str, Mapping[str, Any]] | None = None,
    widget_texts: Mapping[str, Any] | None = None,
) -> list[link_markup.FoundLink]:
    """Check every template compiles and renders for a sample contact.

    ``widgets`` are in their stored shape (``{key: {html, variants}}``). Raises
    ``Invalid`` (a 422) so errors surface when the email is saved, not at send.
    """
    if not subject.strip():
        raise Invalid("subject: must not be empty")
    prepared, prepared_widgets, found = email_widgets.prepare(html, widgets or {}, widget_texts)
    compiled = compile_email(
        subject=subject, prepared_html=prepared, plain_text=plain_text, widgets=prepared_widgets
    )
    # Widgets first, so an error in one is reported there, not where it is placed.
    parts: list[tuple[str, Template]] = []
    for key, widget in compiled.widgets.items():
        parts.append((f"widgets.{key}.html", widget.html))
        parts.extend(
            (f"widgets.{key}.variants[{index}].html", variant.html)
            for index, variant in enumerate(widget.variants)
        )
    parts += [("subject", compiled.subject), ("html", compiled.html), ("plain_text", compiled.text)]
    with message_budget():
        for part, template in parts:
            try:
                render_part(template, contact=SAMPLE_CONTACT)
            except TemplateLimitError as exc:
                raise Invalid(f"{part}: template limit: {exc}") from exc
            except Exception as exc:
                raise Invalid(f"{part}: cannot be rendered: {exc}") from exc
    return found


def sample_subject(subject: str) -> str:
    """The subject as the sample contact would get it, for headings in the admin; the
    template text itself when it cannot be rendered."""
    try:
        rendered = _TEXT_ENV.from_string(subject).render(contact=SAMPLE_CONTACT)
    except Exception:  # noqa: BLE001 - any template error: show the subject as written
        return subject
    return " ".join(rendered.split()) or subject


def render(
    compiled: CompiledEmail,
    contact: dict[str, Any],
    tracked_url: Callable[[int, str], str | None],
    extra: dict[str, Any] | None = None,
    variants: Mapping[str, int] | None = None,
) -> RenderedMessage:
    """Render one recipient's message with tracked links, within the limits of
    ``emails.sandbox`` (``TemplateLimitError`` beyond them); ``extra`` adds variables
    beside ``contact`` (``unsubscribe_url``, ``postal_address``); ``variants`` is the
    variant index chosen for this recipient per widget key (absent: the default)."""
    context = {**extra, "contact": contact} if extra else {"contact": contact}
    with message_budget(), _chosen(variants):
        subject = " ".join(render_part(compiled.subject, **context).split())
        html_body, destinations = link_markup.rewrite(
            render_part(compiled.html, **context), tracked_url
        )
        if compiled.text_mode == "convert":
            text = html_to_text(html_body)
        elif compiled.text_mode == "given":
            text = track_plain_text_urls(
                render_part(compiled.text, **context), destinations, tracked_url
            )
        else:
            text = render_part(compiled.text, **context)
        if compiled.text_mode != "convert" and "TDGLINK" in text:
            # Tracked links of the body, and of widgets placed in any plain text.
            text = _TEXT_LINK_RE.sub(
                lambda m: _text_link(int(m.group(1)), destinations, tracked_url), text
            )
    return RenderedMessage(subject=subject, html=html_body, text=text, destinations=destinations)


def render_html(
    compiled: CompiledEmail, contact: dict[str, Any], variants: Mapping[str, int] | None = None
) -> str:
    """The HTML part alone, link markers kept (the click map), within the limits."""
    with message_budget(), _chosen(variants):
        return render_part(compiled.html, contact=contact)


def _text_link(
    position: int,
    destinations: dict[int, str],
    tracked_url: Callable[[int, str], str | None],
) -> str:
    destination = destinations.get(position)
    if destination is None:
        return ""
    return tracked_url(position, destination) or destination


def render_preview(
    compiled: CompiledEmail,
    contact: dict[str, Any],
    extra: dict[str, Any] | None = None,
    variants: Mapping[str, int] | None = None,
) -> RenderedMessage:
    """Render for a preview: merge fields applied, links left as written."""
    return render(compiled, contact, lambda _position, _destination: None, extra, variants)


def track_plain_text_urls(
    text: str, destinations: dict[int, str], tracked_url: Callable[[int, str], str | None]
) -> str:
    """In a hand-written plain text, swap URLs that are tracked links in the HTML."""
    by_url = {url: pos for pos, url in sorted(destinations.items(), reverse=True)}

    def swap(match: re.Match[str]) -> str:
        found = match.group(0)
        # Punctuation ending a sentence is not part of the URL ("see https://x.com/a.").
        url = found.rstrip(".,;:!?")
        trailing = found[len(url) :]
        position = by_url.get(url)
        if position is None:
            return found
        return (tracked_url(position, url) or url) + trailing

    return _URL_RE.sub(swap, text)
