"""The booth's gallery: every photo, photo strip and clip taken in this booth, newest first.

Entries are kept in IndexedDB per booth, so a reload or a rejoin of the same booth finds them
again. Where IndexedDB can't be used (a private window, a full quota) the gallery keeps them for
this page only and says so in the console, not to the person: nothing they took is lost before
they leave. Downloads are `<a download>` clicks on object URLs, so browsers (and Playwright)
see ordinary downloads; a ZIP of everything is built in Python (galleryfiles.py).
"""

from __future__ import annotations

import asyncio
import html
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import js
from pyodide.ffi import JsException, create_proxy, to_js

from frontend_py import galleryfiles
from frontend_py.dom import h, js_object, nullable, on, replace_children, spawn
from frontend_py.ui import set_text, t, text

DATABASE = "clov-gallery"
VERSION = 1
STORE = "entries"
BOOTH_INDEX = "booth"
MAX_ENTRIES = 200  # per booth: a long session must not fill the origin's storage quota
OPEN_TIMEOUT_S = 5.0  # an open that another tab blocks, or that never answers, must not hold up the gallery
REVOKE_AFTER_S = 60.0  # the browser reads a download's object URL after the click returns
PRINT_CSS = (
    "@page{margin:10mm}html,body{margin:0;height:100%}"
    "img{display:block;width:100%;height:100%;object-fit:contain}"
)


class StorageError(Exception):
    """IndexedDB refused a request; the gallery goes on in memory."""


@dataclass
class Entry:
    id: str
    kind: str
    blob: Any
    width: int
    height: int
    created_ms: float
    note_key: str = ""
    note_values: dict[str, Any] = field(default_factory=dict)
    downloaded: bool = False
    url: str = ""  # an object URL of `blob`, for the thumbnail, the enlarged view and downloads


def _event(target: Any, done: str, failures: tuple[str, ...] = ("error", "abort")) -> asyncio.Future[None]:
    """A future settled by `done` or the first failure event on `target` (an IndexedDB request or transaction).

    The listeners are attached now, before the caller yields: IndexedDB fires its events on a
    later task, so none can be missed.
    """
    future: asyncio.Future[None] = asyncio.get_event_loop().create_future()
    names = (done, *failures)

    def settle(event: Any) -> None:
        if future.done():
            return
        if event.type == done:
            future.set_result(None)
        else:
            reason = nullable(getattr(event.target, "error", None))
            future.set_exception(StorageError(f"{event.type}: {reason}"))

    proxy = create_proxy(settle)
    for name in names:
        target.addEventListener(name, proxy)

    def release(_: Any) -> None:
        for name in names:
            target.removeEventListener(name, proxy)
        proxy.destroy()

    future.add_done_callback(release)
    return future


def _create_schema(database: Any) -> None:
    store = database.createObjectStore(STORE, js_object({"keyPath": "id"}))
    store.createIndex(BOOTH_INDEX, "booth")


async def _open_database() -> Any:
    """The gallery's database, or None where this browser won't give us one."""
    try:
        request = js.indexedDB.open(DATABASE, VERSION)
        upgrade = create_proxy(lambda _: _create_schema(request.result))
        request.addEventListener("upgradeneeded", upgrade)
        opened = _event(request, "success")

        def release(_: Any) -> None:
            request.removeEventListener("upgradeneeded", upgrade)
            upgrade.destroy()

        # Shielded: after a timeout the request may still create the database, and it must get its schema.
        opened.add_done_callback(release)
        await asyncio.wait_for(asyncio.shield(opened), OPEN_TIMEOUT_S)
        database = request.result
    except Exception as error:  # noqa: BLE001 (private modes and old browsers fail in many ways; the page goes on)
        _warn("IndexedDB is unavailable, the gallery is kept for this page only", error)
        return None
    # A newer version of CLOV opening the database in another tab waits until we let go.
    on(database, "versionchange", lambda _: database.close())
    return database


def _entry(record: Any) -> Entry:
    return Entry(
        id=str(record.id),
        kind=str(record.kind),
        blob=record.blob,
        width=int(record.width),
        height=int(record.height),
        created_ms=float(record.created),
        note_key=str(record.note_key),
        note_values=json.loads(record.note_values),
        downloaded=bool(record.downloaded),
    )


def _warn(message: str, error: Exception) -> None:
    js.console.warn(f"gallery: {message}: {error}")


async def _read_bytes(blob: Any) -> bytes:
    return js.Uint8Array.new(await blob.arrayBuffer()).to_bytes()


def _local_time(ms: float) -> datetime:
    """The browser's local time, from JavaScript's own clock and time zone."""
    date = js.Date.new(ms)
    return datetime(
        int(date.getFullYear()),
        int(date.getMonth()) + 1,
        int(date.getDate()),
        int(date.getHours()),
        int(date.getMinutes()),
        int(date.getSeconds()),
    )


def _clock(ms: float) -> str:
    return js.Date.new(ms).toLocaleTimeString(t.language, js_object({"hour": "numeric", "minute": "2-digit"}))


def _time(ms: float) -> Any:
    return h(
        "time",
        {"class": "gallery-time", "datetime": _local_time(ms).isoformat(), "title": js.Date.new(ms).toLocaleString(t.language)},
        _clock(ms),
    )


def _note(entry: Entry) -> Any:
    return text("p", entry.note_key, {"class": "gallery-note"}, **entry.note_values) if entry.note_key else None


def _save(url: str, name: str) -> None:
    """Click an `<a download>`, in the document because Firefox ignores a detached link's click."""
    link = h("a", {"href": url, "download": name, "hidden": True})
    js.document.body.append(link)
    link.click()
    link.remove()


async def _revoke_later(url: str) -> None:
    await asyncio.sleep(REVOKE_AFTER_S)
    js.URL.revokeObjectURL(url)


def _button(key: str, classes: str, handler: Callable[[Any], Any]) -> Any:
    button = text("button", key, {"class": f"button small {classes}", "type": "button"})
    on(button, "click", handler)
    return button


class Gallery:
    """`add()` what the booth takes; `restore()` brings back what it took before a reload or a rejoin.

    `on_share_clip(entry_id)`, when set, is offered on clips as "Share with everyone"; the room
    sends the clip (`entry_blob(entry_id)`) to the others.
    """

    def __init__(self, booth: str) -> None:
        self.booth = booth
        self.on_share_clip: Callable[[str], None] | None = None
        self.entries: list[Entry] = []  # newest first, like the grid
        self._items: dict[str, Any] = {}
        self._database: asyncio.Future[Any] | None = None
        self._viewing: Entry | None = None
        self._share_file: Any = None
        self._print_frame: Any = None

        self.download_all_button = text(
            "button",
            "gallery.download_all",
            {"id": "gallery-download-all", "class": "button small secondary", "type": "button", "hidden": True},
        )
        on(self.download_all_button, "click", lambda _: self.download_all())
        self.empty = text("p", "gallery.empty", {"class": "hint gallery-empty"})
        self.grid = h("ul", {"class": "gallery-grid", "aria-labelledby": "gallery-title"})
        # One listener for the whole grid: items come and go, and each would otherwise keep its own proxies.
        on(self.grid, "click", self._grid_click)

        self.view_title = h("h3", {"id": "gallery-view-title"})
        self.view_time = h("span")
        self.view_media = h("div", {"class": "gallery-view-media"})
        self.view_note = h("p", {"class": "gallery-note", "hidden": True})
        self.share_button = _button("gallery.share", "secondary gallery-share", self._share)
        self.share_all_button = _button("gallery.share_all", "secondary gallery-share-all", self._on_view(self._share_all))
        self.print_button = _button("gallery.print", "secondary gallery-print", self._on_view(self._print))
        self.view = h(
            "dialog",
            {"id": "gallery-view", "aria-labelledby": "gallery-view-title"},
            h(
                "div",
                {"class": "gallery-view-body"},
                h("div", {"class": "gallery-view-caption"}, self.view_title, self.view_time),
                self.view_media,
                self.view_note,
                h(
                    "div",
                    {"class": "gallery-view-actions"},
                    _button("gallery.download", "primary gallery-download", self._on_view(lambda entry: self.download(entry.id))),
                    self.share_button,
                    self.share_all_button,
                    self.print_button,
                    _button("gallery.delete", "danger gallery-delete", self._on_view(lambda entry: self.delete(entry.id))),
                    _button("gallery.close", "secondary gallery-close", lambda _: self.view.close()),
                ),
            ),
        )
        # Escape closes a modal dialog by itself; this also empties it (a clip stops playing).
        on(self.view, "close", self._closed)
        on(self.view, "click", self._backdrop_click)

        self.element = h(
            "section",
            {"id": "gallery", "class": "panel gallery", "aria-labelledby": "gallery-title"},
            h("div", {"class": "row"}, text("h2", "gallery.title", {"id": "gallery-title"}), self.download_all_button),
            self.empty,
            self.grid,
            self.view,
        )

    # What the room calls

    async def restore(self) -> None:
        """Bring back this booth's entries from IndexedDB; without it, quietly nothing."""
        database = await self._open()
        if database is None:
            return
        try:
            request = database.transaction(STORE, "readonly").objectStore(STORE).index(BOOTH_INDEX).getAll(self.booth)
            await _event(request, "success")
            loaded = [_entry(record) for record in request.result]
        except Exception as error:  # noqa: BLE001 (a stored record we cannot read must not stop the booth)
            _warn("could not read the gallery", error)
            return
        for entry in loaded:
            if self._find(entry.id) is None:
                self._insert(entry)
        dropped = self._prune()
        self._refresh()
        await self._write([], [entry.id for entry in dropped])

    async def add(
        self,
        kind: str,
        blob: Any,
        width: int,
        height: int,
        created_ms: float,
        note_key: str = "",
        note_values: dict[str, Any] | None = None,
        entry_id: str = "",
    ) -> str:
        """Show a photo, strip or clip (a Blob; its `type` is the MIME type) at the top, store it, return its id.

        An id already in the gallery is not added twice.
        """
        if kind not in galleryfiles.KINDS:
            raise ValueError(f"unknown gallery kind {kind!r}")
        entry_id = entry_id or uuid.uuid4().hex
        if self._find(entry_id) is None:
            entry = Entry(entry_id, kind, blob, int(width), int(height), float(created_ms), note_key, dict(note_values or {}))
            self._insert(entry)
            dropped = self._prune()
            self._refresh()
            await self._write([entry], [old.id for old in dropped])
        return entry_id

    def entry_blob(self, entry_id: str) -> Any:
        """The entry's Blob, or None once it is gone from the gallery."""
        entry = self._find(entry_id)
        return entry.blob if entry else None

    def not_downloaded(self) -> int:
        """How many entries were never downloaded (alone, in a ZIP, or shared), before a reload included."""
        return sum(not entry.downloaded for entry in self.entries)

    def download(self, entry_id: str) -> None:
        entry = self._find(entry_id)
        if entry is None:
            return
        _save(entry.url, self._name(entry))
        spawn(self._mark_downloaded([entry]))

    async def download_all(self) -> None:
        """Everything in one ZIP, oldest first, named for today (`clov-YYYY-MM-DD.zip`)."""
        entries = self.entries[::-1]
        button = self.download_all_button
        if not entries or button.disabled:
            return
        button.disabled = True
        set_text(button, "gallery.zipping")
        try:
            files = [(self._name(entry), await _read_bytes(entry.blob)) for entry in entries]
            data = galleryfiles.zip_bytes(files)
            archive = js.Blob.new(to_js([to_js(data)]), js_object({"type": "application/zip"}))
        finally:
            button.disabled = False
            set_text(button, "gallery.download_all")
        url = js.URL.createObjectURL(archive)
        _save(url, galleryfiles.zip_name(_local_time(js.Date.now()).date()))
        spawn(_revoke_later(url))
        await self._mark_downloaded(entries)

    def open(self, entry_id: str) -> None:
        """The enlarged view of one entry, with what can be done with it."""
        entry = self._find(entry_id)
        if entry is None:
            return
        self._viewing = entry
        label = t(f"gallery.alt.{entry.kind}", time=_clock(entry.created_ms))
        size = {"width": entry.width, "height": entry.height}
        if entry.kind == "clip":
            media = h("video", {"src": entry.url, "controls": True, "playsInline": True, "aria-label": label, **size})
        else:
            media = h("img", {"src": entry.url, "alt": label, **size})
        replace_children(self.view_media, media)
        set_text(self.view_title, f"gallery.kind.{entry.kind}")
        replace_children(self.view_time, _time(entry.created_ms))
        if entry.note_key:
            set_text(self.view_note, entry.note_key, **entry.note_values)
        self.view_note.hidden = not entry.note_key
        self._share_file = self._shareable(entry)
        self.share_button.hidden = self._share_file is None
        self.share_all_button.hidden = entry.kind != "clip" or self.on_share_clip is None
        self.print_button.hidden = entry.kind == "clip"
        if not self.view.open:
            self.view.showModal()

    async def delete(self, entry_id: str) -> None:
        """Delete from this browser's gallery only; what others took and kept is theirs."""
        entry = self._find(entry_id)
        if entry is None:
            return
        self._forget([entry])
        self._refresh()
        await self._write([], [entry.id])

    # The grid

    def _find(self, entry_id: str) -> Entry | None:
        return next((entry for entry in self.entries if entry.id == entry_id), None)

    def _name(self, entry: Entry) -> str:
        return galleryfiles.file_name(entry.kind, _local_time(entry.created_ms), entry.blob.type)

    def _insert(self, entry: Entry) -> None:
        entry.url = js.URL.createObjectURL(entry.blob)
        item = self._item(entry)
        self._items[entry.id] = item
        index = next((i for i, other in enumerate(self.entries) if other.created_ms < entry.created_ms), len(self.entries))
        if index < len(self.entries):
            self.grid.insertBefore(item, self._items[self.entries[index].id])
        else:
            self.grid.append(item)
        self.entries.insert(index, entry)

    def _item(self, entry: Entry) -> Any:
        label = t(f"gallery.alt.{entry.kind}", time=_clock(entry.created_ms))
        if entry.kind == "clip":
            # A media fragment makes Safari paint a first frame too, as a poster.
            thumbnail = h(
                "video",
                {"src": f"{entry.url}#t=0.1", "muted": True, "playsInline": True, "preload": "metadata", "aria-hidden": "true"},
            )
        else:
            thumbnail = h("img", {"src": entry.url, "alt": label, "loading": "lazy", "decoding": "async"})
        return h(
            "li",
            {"class": "gallery-item", "data-kind": entry.kind, "data-id": entry.id},
            h(
                "button",
                {"class": "gallery-open", "type": "button", "title": t("gallery.view"), "aria-label": label if entry.kind == "clip" else None},
                thumbnail,
            ),
            h(
                "button",
                {"class": "gallery-item-download", "type": "button", "title": t("gallery.download")},
                h("span", {"aria-hidden": "true"}, "↓"),
                text("span", "gallery.download", {"class": "visually-hidden"}),
            ),
            _time(entry.created_ms),
            _note(entry),
        )

    def _grid_click(self, event: Any) -> None:
        item = nullable(event.target.closest(".gallery-item"))
        if item is None:
            return
        if nullable(event.target.closest(".gallery-item-download")) is not None:
            self.download(item.dataset.id)
        elif nullable(event.target.closest(".gallery-open")) is not None:
            self.open(item.dataset.id)

    def _prune(self) -> list[Entry]:
        """Forget the oldest beyond MAX_ENTRIES; returns them, for the database to forget too."""
        dropped = self.entries[MAX_ENTRIES:]
        self._forget(dropped)
        return dropped

    def _forget(self, entries: list[Entry]) -> None:
        for entry in entries:
            if entry is self._viewing:
                self.view.close()
                self._clear_view()
            self.entries.remove(entry)
            self._items.pop(entry.id).remove()
            js.URL.revokeObjectURL(entry.url)

    def _refresh(self) -> None:
        self.empty.hidden = bool(self.entries)
        self.download_all_button.hidden = not self.entries

    # The enlarged view

    def _on_view(self, action: Callable[[Entry], Any]) -> Callable[[Any], Any]:
        """A click handler running `action` on the entry in view (a coroutine runs as a task)."""
        return lambda _: action(self._viewing) if self._viewing else None

    def _closed(self, _: Any) -> None:
        # "close" arrives a task later; by then the dialog may show another entry.
        if not self.view.open:
            self._clear_view()

    def _clear_view(self) -> None:
        replace_children(self.view_media)
        self._viewing = None
        self._share_file = None

    def _backdrop_click(self, event: Any) -> None:
        # The body fills the dialog, so only a click on the backdrop lands on the dialog itself.
        if event.target.id == "gallery-view":
            self.view.close()

    def _shareable(self, entry: Entry) -> Any:
        """A File for `navigator.share`, or None where this browser can't share files (or not this kind)."""
        if getattr(js.navigator, "canShare", None) is None:
            return None
        file = js.File.new(to_js([entry.blob]), self._name(entry), js_object({"type": entry.blob.type}))
        return file if js.navigator.canShare(js_object({"files": [file]})) else None

    def _share(self, _: Any) -> None:
        # Called in the click itself, not in a task: Safari shares only within the gesture.
        entry, file = self._viewing, self._share_file
        if entry is not None and file is not None:
            spawn(self._shared(entry, js.navigator.share(js_object({"files": [file]}))))

    async def _shared(self, entry: Entry, sharing: Any) -> None:
        try:
            await sharing
        except JsException as error:
            # Closing the share sheet rejects with AbortError: nothing went wrong.
            if getattr(error, "name", "") != "AbortError":
                _warn("sharing failed", error)
            return
        await self._mark_downloaded([entry])

    def _share_all(self, entry: Entry) -> None:
        if self.on_share_clip is not None:
            self.on_share_clip(entry.id)

    async def _print(self, entry: Entry) -> None:
        """Print just the picture: a hidden frame holding only the image prints itself."""
        if self._print_frame is not None:
            self._print_frame.remove()
        # Kept until the next print: Firefox and Safari print after print() returns, from the frame.
        self._print_frame = frame = h("iframe", {"class": "gallery-print-frame", "aria-hidden": "true", "tabindex": "-1"})
        frame.srcdoc = (
            f"<!doctype html><title>{html.escape(self._name(entry))}</title><style>{PRINT_CSS}</style>"
            f'<img src="{html.escape(entry.url)}" alt="">'
        )
        loaded = _event(frame, "load", ())
        js.document.body.append(frame)
        await loaded
        await frame.contentDocument.querySelector("img").decode()
        frame.contentWindow.print()

    # The database

    async def _open(self) -> Any:
        if self._database is None:
            self._database = asyncio.ensure_future(_open_database())
        return await self._database

    def _record(self, entry: Entry) -> Any:
        return js_object(
            {
                "id": entry.id,
                "booth": self.booth,
                "kind": entry.kind,
                "blob": entry.blob,
                "width": entry.width,
                "height": entry.height,
                "created": entry.created_ms,
                "note_key": entry.note_key,
                "note_values": json.dumps(entry.note_values),
                "downloaded": entry.downloaded,
            }
        )

    async def _write(self, puts: list[Entry], deletes: list[str]) -> None:
        """Store and drop entries in one transaction; a refusal is logged and the page carries on."""
        database = await self._open()
        # An entry deleted or pruned while this waited must not come back.
        puts = [entry for entry in puts if self._find(entry.id) is entry]
        if database is None or not (puts or deletes):
            return
        try:
            transaction = database.transaction(STORE, "readwrite")
            store = transaction.objectStore(STORE)
            for entry in puts:
                store.put(self._record(entry))
            for entry_id in deletes:
                store.delete(entry_id)
            await _event(transaction, "complete")
        except Exception as error:  # noqa: BLE001 (the pictures stay on the page when the store refuses them)
            _warn("could not save the gallery", error)

    async def _mark_downloaded(self, entries: list[Entry]) -> None:
        fresh = [entry for entry in entries if not entry.downloaded]
        for entry in fresh:
            entry.downloaded = True
        await self._write(fresh, [])
