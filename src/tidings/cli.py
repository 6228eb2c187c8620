"""The ``tidings`` command line: migrate, serve, worker, demo, api-key, user."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path

import typer
from rich.console import Console

from tidings.config import Settings, get_settings
from tidings.errors import TidingsError

app = typer.Typer(help="Tidings: self-hosted email engagement platform.", no_args_is_help=True)
api_key_app = typer.Typer(help="Manage REST API keys.", no_args_is_help=True)
user_app = typer.Typer(help="Manage admin users.", no_args_is_help=True)
contacts_app = typer.Typer(help="Import and export contacts.", no_args_is_help=True)
dkim_app = typer.Typer(help="DKIM signing keys.", no_args_is_help=True)
bot_data_app = typer.Typer(
    help="The data files that tell machines from people.", no_args_is_help=True
)
app.add_typer(api_key_app, name="api-key")
app.add_typer(user_app, name="user")
app.add_typer(contacts_app, name="contacts")
app.add_typer(dkim_app, name="dkim")
app.add_typer(bot_data_app, name="bot-data")
console = Console(stderr=True)


def _runtime(settings: Settings | None = None):  # type: ignore[no-untyped-def]
    from tidings.runtime import Runtime

    return Runtime(settings or get_settings())


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code=2)


def _check_policy(runtime) -> None:  # type: ignore[no-untyped-def]
    """Load the consent policy now: a bad ``TIDINGS_CONSENT_POLICY`` stops the start."""
    from tidings.consent.policy import PolicyError, tracking_policy

    try:
        tracking_policy(runtime)
    except PolicyError as exc:
        _fail(str(exc))


def _warn_about_sending(base_url: str) -> None:
    from tidings.sending.quality import base_url_warning

    warning = base_url_warning(base_url)
    if warning:
        console.print(f"[yellow]warning:[/yellow] {warning}", markup=True, highlight=False)


@app.command()
def migrate() -> None:
    """Apply database migrations and create the default ``tracking`` consent."""
    from tidings.assembly.bootstrap import migrate_and_bootstrap

    settings = get_settings()
    url = settings.resolved_database_url()
    console.print(f"Migrating {_safe_url(url)} ...")
    try:
        migrate_and_bootstrap(url)
    except Exception as exc:  # noqa: BLE001 - one line for the operator, not a traceback
        _fail(f"migration failed: {exc}")
    console.print("[green]Database is up to date.[/green]")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command()
def serve(
    host: str = typer.Option(None, help="Interface to listen on (TIDINGS_HOST)."),
    port: int = typer.Option(None, help="Port to listen on (TIDINGS_PORT)."),
    workers: bool = typer.Option(True, help="Run job and mailout workers in this process."),
) -> None:
    """Run the web server (admin, API, tracking), with in-process workers by default."""
    import uvicorn

    from tidings.assembly.app import asgi_entry, create_app
    from tidings.gc_tuning import tune_for_serving

    settings = get_settings()
    if host:
        settings.host = host
    if port:
        settings.port = port
    if settings.bounce_smtp:
        from tidings.bounces.listener import parse_listen_address

        try:
            parse_listen_address(settings.bounce_smtp)
        except TidingsError as exc:
            _fail(str(exc.detail))
    runtime = _runtime(settings)
    _check_policy(runtime)
    _warn_about_sending(runtime.base_url)
    application = create_app(runtime, workers=workers, mailcatcher=not settings.smtp_url)
    console.print(f"Tidings listening on [bold]http://{settings.host}:{settings.port}[/bold]")
    tune_for_serving()
    uvicorn.run(
        asgi_entry(application),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        # Forwarded headers are read by the app, from TIDINGS_TRUSTED_PROXIES only.
        proxy_headers=False,
    )


@app.command()
def worker(
    bounce_listener: bool = typer.Option(
        False, help="Also accept returned mail on TIDINGS_BOUNCE_SMTP (off: `serve` does)."
    ),
) -> None:
    """Run a worker: job queue consumer and mailout supervisor (scaled-out mode)."""
    from tidings.assembly.subscribers import SUBSCRIBERS
    from tidings.assembly.workers import register_jobs
    from tidings.bounces.listener import start_from_settings
    from tidings.events.dispatch import start_dispatcher, stop_dispatcher
    from tidings.jobs.schedule import Scheduler
    from tidings.sending import single_pool
    from tidings.sending.supervisor import MailoutSupervisor

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    runtime = _runtime()
    _check_policy(runtime)
    _warn_about_sending(runtime.base_url)
    register_jobs()
    single_pool.serve(runtime)
    start_dispatcher(runtime, SUBSCRIBERS)
    supervisor = MailoutSupervisor(runtime)
    supervisor.start()
    scheduler = Scheduler(runtime)
    scheduler.start()
    try:
        bounces = start_from_settings(runtime) if bounce_listener else None
    except (TidingsError, OSError) as exc:
        _fail(f"bounce listener: {getattr(exc, 'detail', exc)}")
    stop = threading.Event()

    def _stop(_sig: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    runtime.queue.start_consumer()
    console.print("Worker running; Ctrl-C stops it.")
    stop.wait()
    scheduler.stop()
    runtime.queue.stop_consumer()
    stop_dispatcher(runtime)
    single_pool.stop(runtime)
    supervisor.stop()
    if bounces is not None:
        bounces.stop()


@app.command()
def demo(
    serve_after: bool = typer.Option(True, "--serve/--no-serve", help="Start the server."),
) -> None:
    """Migrate, load demo data, send the demo email to the mail catcher and serve."""
    from tidings import demo as demo_data
    from tidings.assembly.bootstrap import migrate_and_bootstrap
    from tidings.auth import service as auth

    settings = get_settings()
    migrate_and_bootstrap(settings.resolved_database_url())
    runtime = _runtime(settings)
    with runtime.session() as session:
        result = demo_data.seed(session=session)
        user_email, password = "demo@example.com", "tidings-demo"
        from sqlalchemy import select

        from tidings.auth.models import User

        if session.scalars(select(User).where(User.email == user_email)).first() is None:
            auth.create_user(session=session, email=user_email, password=password)
        _, key = auth.create_api_key(session=session, name="demo")
    base = runtime.base_url
    out = Console(soft_wrap=True)
    out.print()
    out.print("[bold green]Tidings demo is ready.[/bold green]")
    out.print(f"  Open            {base}/")
    out.print(f"  Sign in as      {user_email} / {password}")
    out.print(f"  Inbox           {base}/inbox  (open a message, click a link)")
    out.print(f"  Statistics API  {base}/api/v1/emails/{result.email_id}/statistics")
    out.print(f"  Activities API  {base}/api/v1/emails/{result.email_id}/activities")
    out.print(f"  API key         {key}")
    out.print(
        f'  Try: curl -H "Authorization: Bearer {key}" '
        f"{base}/api/v1/emails/{result.email_id}/statistics"
    )
    out.print()
    if serve_after:
        serve(host=None, port=None, workers=True)  # type: ignore[arg-type]


@api_key_app.command("create")
def api_key_create(name: str = typer.Option(..., "--name", help="What the key is for.")) -> None:
    """Create an API key; the key is printed last, once."""
    from tidings.auth import service as auth

    runtime = _runtime()
    try:
        with runtime.session() as session:
            row, key = auth.create_api_key(session=session, name=name)
    except TidingsError as exc:
        _fail(str(exc.detail))
    console.print(f"Created API key {row.id} ({name}). Store it now; it is not shown again:")
    print(key)


@user_app.command("create")
def user_create(
    email: str = typer.Option(..., "--email"),
    password: str = typer.Option(..., "--password", prompt=True, hide_input=True),
) -> None:
    """Create an admin user who can sign in to the web UI."""
    from tidings.auth import service as auth

    runtime = _runtime()
    try:
        with runtime.session() as session:
            user = auth.create_user(session=session, email=email, password=password)
    except TidingsError as exc:
        _fail(str(exc.detail))
    console.print(f"Created user {user.email}.")


@user_app.command("list")
def user_list() -> None:
    """List the admin users: email, created, live sessions."""
    from tidings.auth import service as auth
    from tidings.auth import sessions

    runtime = _runtime()
    with runtime.session() as session:
        users = auth.list_users(session=session)
        live = sessions.active_counts(session=session)
    out = Console(soft_wrap=True)
    for user in users:
        created = user.created_at.strftime("%Y-%m-%d %H:%M")
        out.print(f"{user.email}\tcreated {created}\t{live.get(user.id, 0)} sessions", markup=False)
    console.print(f"{len(users)} user{'s' if len(users) != 1 else ''}.")


@user_app.command("remove")
def user_remove(email: str = typer.Option(..., "--email")) -> None:
    """Remove an admin user and end their sessions (never the last user)."""
    from tidings.auth import service as auth

    runtime = _runtime()
    try:
        with runtime.session() as session:
            user = auth.find_user(session=session, email=email)
            auth.remove_user(session=session, user_id=user.id)
    except TidingsError as exc:
        _fail(str(exc.detail))
    console.print(f"Removed user {user.email}; their sessions have ended.")


def _new_password() -> str:
    """A new password from a hidden prompt (typed twice), or stdin's first line."""
    if sys.stdin.isatty():
        value: str = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
        return value
    return sys.stdin.readline().rstrip("\r\n")


@user_app.command("password")
def user_password(email: str = typer.Option(..., "--email")) -> None:
    """Set a user's password (prompted, or read from stdin) and end their sessions."""
    from tidings.auth import service as auth

    runtime = _runtime()
    try:
        with runtime.session() as session:
            user = auth.find_user(session=session, email=email)
            ended = auth.set_password(session=session, user=user, password=_new_password())
    except TidingsError as exc:
        _fail(str(exc.detail))
    console.print(f"Changed the password of {user.email}; {ended} session(s) ended.")


@contacts_app.command("import")
def contacts_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV with an email column."),
    list_id: int | None = typer.Option(None, "--list", help="Subscribe them to this list."),
    with_consents: bool = typer.Option(
        False, "--with-consents", help="Record agreements from a consents column."
    ),
) -> None:
    """Import contacts from CSV (email, first_name, last_name, other columns as fields)."""
    from rich.progress import Progress

    from tidings.lists.importer import import_contacts

    runtime = _runtime()
    with Progress(console=console) as bar:
        task = bar.add_task("Importing", total=None)
        try:
            result = import_contacts(
                runtime=runtime,
                data=file.read_bytes(),
                list_id=list_id,
                record_consents=with_consents,
                source="cli import",
                on_progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        except TidingsError as exc:
            _fail(str(exc.detail))
    for problem in result.problems:
        console.print(f"row {problem.row}: {problem.value!r}: {problem.reason}", markup=False)
    for note in result.notes:
        console.print(note, markup=False)
    console.print(f"{result.accepted} imported, {result.rejected} skipped.")


@contacts_app.command("export")
def contacts_export(
    output: Path | None = typer.Option(None, "--output", "-o", help="File (default stdout)."),
) -> None:
    """Export every contact as CSV (the importer reads it back)."""
    from tidings.contacts.export import write_csv

    runtime = _runtime()
    with runtime.session() as session:
        if output is None:
            count = write_csv(session=session, out=sys.stdout)
        else:
            with output.open("w", newline="", encoding="utf-8") as handle:
                count = write_csv(session=session, out=handle)
    console.print(f"Exported {count} contacts.")


@dkim_app.command("generate")
def dkim_generate(
    domain: str = typer.Option(..., "--domain", help="The domain messages are signed for."),
    selector: str = typer.Option(..., "--selector", help="The selector, e.g. tidings2026."),
    out: Path | None = typer.Option(
        None, "--out", help="Where to write the key (default: DATA_DIR/dkim/SELECTOR.DOMAIN.pem)."
    ),
) -> None:
    """Write a 2048-bit RSA key and print the DNS TXT record to publish."""
    from tidings.sending.dkim_records import generate

    try:
        result = generate(
            domain=domain, selector=selector, out=out, data_dir=get_settings().resolved_data_dir()
        )
    except TidingsError as exc:
        _fail(str(exc.detail))
    out_console = Console(soft_wrap=True)
    out_console.print(f"Wrote {result.path} (keep it private, mode 0600).", markup=False)
    out_console.print("Publish this DNS TXT record:", markup=False)
    out_console.print(result.dns_line, markup=False)
    out_console.print("Then sign with:", markup=False)
    out_console.print(f"TIDINGS_DKIM={result.setting}", markup=False)


@bot_data_app.command("update")
def bot_data_update(
    file: Path = typer.Argument(..., help="The new ip_ranges.txt or user_agents.txt."),
    name: str | None = typer.Option(
        None, "--as", help="Which data file it replaces (default: the file's own name)."
    ),
) -> None:
    """Validate FILE and replace the data file of its name (restart to apply)."""
    from tidings.tracking.botdata import BotDataError, install

    if not file.is_file():
        _fail(f"{file} is not a file")
    try:
        target = install(file, get_settings().resolved_data_dir(), name)
    except (BotDataError, OSError) as exc:
        _fail(str(exc))
    console.print(f"Installed {target}. Restart Tidings to use it.", markup=False)


def main() -> None:
    """Entry point of the ``tidings`` script."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
