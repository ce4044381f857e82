"""Entry point of the browser client: PyScript runs this file once Pyodide is up.

Routes by URL: `/` is the lobby, `/r/{room}#{token}` an invitation. Tests wait for
`<html data-ready="1">`, set once the first screen is on the page.
"""

from __future__ import annotations

import js

from frontend_py.capabilities import missing
from frontend_py.dom import h, mark
from frontend_py.lobby import show_invitation, show_lobby
from frontend_py.room import enter_room
from frontend_py.ui import show, show_error, t, text
from signaling.protocol import is_valid_id


async def start() -> None:
    mark("python-ready")
    js.document.documentElement.lang = t.language
    problems = missing()
    path = js.location.pathname
    if problems:
        show("unsupported", h("main", {"class": "card narrow", "role": "alert"},
                              text("h1", "unsupported.title"),
                              *[text("p", key, {"class": "error-text"}) for key in problems]))
    elif path.startswith("/r/"):
        room, token = path[3:], js.location.hash[1:]
        if not is_valid_id(room) or not token:
            show_error("error.no_link" if is_valid_id(room) else "error.invalid_token")
        else:
            await show_invitation(room, token, enter_room)
    else:
        await show_lobby(enter_room)
    js.document.documentElement.dataset.ready = "1"


await start()  # noqa: F704 (PyScript runs the entry script with top-level await)
