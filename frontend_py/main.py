"""Entry point of the browser client: PyScript runs this file once Pyodide is up.

Routes by URL: an invite link (`/r/{room}#{token}`, or `?r={room}#{token}` on a static host,
`frontend_py/urls.py`) opens the invitation, any other page the lobby. Tests wait for
`<html data-ready="1">`, set once the first screen is on the page.
"""

from __future__ import annotations

import js

from frontend_py.capabilities import missing
from frontend_py.dom import h, mark
from frontend_py.lobby import show_invitation, show_lobby
from frontend_py.room import enter_room
from frontend_py.ui import show, show_error, t, text
from frontend_py.urls import invitation
from signaling.protocol import is_valid_id


async def start() -> None:
    mark("python-ready")
    js.document.documentElement.lang = t.language
    problems = missing()
    invited = invitation(str(js.location.href))
    if problems:
        show("unsupported", h("main", {"class": "card narrow", "role": "alert"},
                              text("h1", "unsupported.title"),
                              *[text("p", key, {"class": "error-text"}) for key in problems]))
    elif invited is not None:
        room, token = invited
        if not is_valid_id(room) or not token:
            show_error("error.no_link" if is_valid_id(room) else "error.invalid_token")
        else:
            await show_invitation(room, token, enter_room)
    else:
        await show_lobby(enter_room)
    js.document.documentElement.dataset.ready = "1"


await start()  # noqa: F704, PLE1142 (PyScript runs the entry script with top-level await)
