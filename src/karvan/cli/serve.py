"""``karvan serve``: the local dashboard."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from karvan.cli._app import app, console


def is_loopback(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or a loopback address (only this machine can connect).

    Examples
    --------
    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_host(host: str) -> None:
    """Refuse a --host this machine cannot listen on, before anything is announced (uvicorn
    said "Name or service not known" or "cannot assign requested address" after the
    dashboard's address had been printed).

    Raises
    ------
    InputError
        A name that does not resolve, or an address no interface of this machine has.
    """
    import socket

    from karvan.errors import InputError

    fix = "give an address of this machine, such as 127.0.0.1 (this machine only) or 0.0.0.0"
    try:
        found = socket.getaddrinfo(host, 0, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        raise InputError(f"--host {host} is not an address or a name that resolves ({e}); "
                         f"{fix}.") from None
    last = None
    for family, kind, proto, _, address in found:
        try:
            with socket.socket(family, kind, proto) as s:
                s.bind(address)  # port 0: any free one, only to ask whether the address is ours
            return
        except OSError as e:
            last = e
    raise InputError(f"--host {host}: this machine cannot listen on it ({last}); {fix}.")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on; anything but 127.0.0.1 "
                                           "lets other machines in (there is no login).")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    store: Annotated[Path, typer.Option("--store", help="Run store folder (created if "
                                                        "missing).")] = Path("results"),
    workers: Annotated[int, typer.Option(min=1, help="Scenario runs at the same time; more "
                                                     "wait.")]
    = 2,
    allow_host: Annotated[list[str] | None, typer.Option(
        help="Another name to answer to in Host headers (besides 127.0.0.1, localhost and the "
             "--host address), e.g. this machine's name when serving others; repeatable.")]
    = None,
    data: Annotated[Path | None, typer.Option(
        help="The corridor dataset that scenarios built here apply to (default: built in).")]
    = None,
) -> None:
    """Start the dashboard: stored runs, their maps and tables, scenarios built and run in the
    background, comparisons. Stop it with Ctrl-C.

    Raises
    ------
    InputError
        A port outside 1-65535, a host that is no address, or a store folder that cannot hold
        a run store.
    """
    import uvicorn

    from karvan.errors import InputError
    from karvan.web import create_app
    from karvan.web.guard import allowed_hosts

    if not 1 <= port <= 65535:
        raise InputError(f"--port {port} is not a port (1-65535).")
    _check_host(host)
    dataset = None
    if data is not None:
        from karvan.freight.corridor import load_corridor

        dataset = load_corridor(data)  # checked before the server starts
    web = create_app(store, data=dataset, workers=workers, host=host,
                     allow_hosts=allow_host or ())
    if not is_loopback(host):
        console.print(f"[yellow]warning:[/] listening on {host}: other machines can reach the "
                      "dashboard, which has no login.")
        names = ", ".join(sorted(allowed_hosts(host, allow_host or ())))
        console.print(f"It answers only requests addressed to {names}; give this machine's "
                      "name or address with --allow-host to reach it under that name.",
                      highlight=False)
    console.print(f"karvan dashboard on http://{host}:{port}/ (store: {store}; dataset: "
                  f"{data if data is not None else 'built in'}); Ctrl-C stops it.")
    uvicorn.run(web, host=host, port=port, log_level="warning")
