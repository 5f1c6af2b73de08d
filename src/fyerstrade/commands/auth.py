"""``fyerstrade auth login | status | logout``: the daily Fyers login and the token file."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from fyerstrade.commands.group import command_group
from fyerstrade.commands.options import finite


def _profile(settings: Any, app_id: str, token: str) -> dict[str, Any]:
    from fyerstrade.fyers.client import FyersClient

    return FyersClient(settings, app_id=app_id, access_token=token).profile()


def _remaining(seconds: float) -> str:
    minutes = int(seconds // 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def register(app: typer.Typer) -> None:
    group = command_group("Log in to Fyers (once every trading day), check the login, log out.")

    @group.command("login")
    def login(
        no_browser: Annotated[
            bool, typer.Option("--no-browser", help="Print the login URL; do not open a browser.")
        ] = False,
        timeout: Annotated[
            float,
            typer.Option(
                "--timeout", min=5, callback=finite, help="Seconds to wait for the redirect."
            ),
        ] = 300.0,
    ) -> None:
        """Log in through the browser and save the access token (mode 0600) in the data dir.

        With a redirect URI on http://127.0.0.1:PORT the redirect is caught automatically;
        otherwise paste the URL the browser was sent to. Against the simulator
        (FYERSTRADE_FYERS_URL) it completes on its own.
        """
        from fyerstrade.cli import settings
        from fyerstrade.fyers.auth import REFRESH_NOTE
        from fyerstrade.fyers.auth import login as run_login
        from fyerstrade.fyers.tokens import ist_text

        s = settings()
        record = run_login(
            s,
            echo=typer.echo,
            prompt=lambda text: str(typer.prompt(text)),
            open_browser=not no_browser,
            timeout=timeout,
            profile=_profile,
        )
        who = f"{record.name} ({record.fy_id})" if record.fy_id else record.app_id
        typer.echo(f"Logged in as {who}; token valid until {ist_text(record.expires_at)}.")
        typer.echo(f"Saved to {s.token_file}. {REFRESH_NOTE}")

    @group.command("status")
    def status() -> None:
        """Who is logged in and until when (IST), checked with Fyers; or what to run."""
        import time

        from fyerstrade.cli import settings
        from fyerstrade.errors import AuthError, FyersTradeError
        from fyerstrade.fyers.auth import REFRESH_NOTE
        from fyerstrade.fyers.client import FyersClient
        from fyerstrade.fyers.tokens import LOGIN_HINT, ist_text, load_valid_token

        s = settings()
        record = load_valid_token(s)  # AuthError: not logged in / expired -> one line, exit 2
        client = FyersClient(s, app_id=record.app_id, access_token=record.access_token)
        try:
            profile = client.profile()
        except AuthError:
            raise AuthError(
                f"Fyers no longer accepts the saved token (expired or logged out); {LOGIN_HINT}"
            ) from None
        except FyersTradeError as exc:
            typer.echo(f"warning: could not reach Fyers to check the token: {exc}", err=True)
            profile = {}
        name = str(profile.get("name") or record.name or "?")
        fy_id = str(profile.get("fy_id") or record.fy_id or "?")
        left = record.expires_at - time.time()
        until = ist_text(record.expires_at)
        when = f"until {until} (in {_remaining(left)})" if left > 0 else f"until {until}"
        if s.uses_simulator:
            when += f" [simulator at {s.fyers_url}]"
        typer.echo(f"Logged in as {name} ({fy_id}), app {record.app_id}, {when}.")
        typer.echo(REFRESH_NOTE)

    @group.command("logout")
    def logout() -> None:
        """Invalidate the token on the server and delete the token file."""
        from fyerstrade.cli import settings
        from fyerstrade.errors import FyersTradeError
        from fyerstrade.fyers.client import FyersClient
        from fyerstrade.fyers.tokens import delete_token, read_token

        s = settings()
        record = read_token(s.token_file)
        if record is None:
            typer.echo("Not logged in (no token file).")
            return
        try:
            FyersClient(s, app_id=record.app_id, access_token=record.access_token).logout()
        except FyersTradeError as exc:
            typer.echo(f"warning: Fyers did not confirm the logout ({exc})", err=True)
        delete_token(s.token_file)
        typer.echo(f"Logged out; deleted {s.token_file}.")

    app.add_typer(group, name="auth")
