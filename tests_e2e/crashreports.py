"""Chromium's crash reports (minidumps), read enough to say where a renderer crashed.

Chromium's crash handler writes a minidump for every crashed process, even with uploads off.
A failing browser test lists the ones written while it ran: the signal, the faulting address,
and the instruction's module and offset, which stay the same from one crash of a bug to the
next. Format: Microsoft's MINIDUMP structures, as crashpad writes them on Linux.
"""

from __future__ import annotations

import struct
from pathlib import Path

PENDING = Path(".config", "chromium", "Crash Reports", "pending")  # under the HOME Chromium ran with
SIGNALS = {4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE", 11: "SIGSEGV"}
_THREAD_LIST, _MODULE_LIST, _EXCEPTION = 3, 4, 6
_RIP_IN_CONTEXT = 0xF8  # CONTEXT_AMD64


_homes = {Path.home()}


def watch(home: Path) -> None:
    """Look under `home` too: the HOME of a Chromium launched with its own (`trusting_home`)."""
    _homes.add(home)


def reports() -> set[Path]:
    return {path for home in _homes for path in (home / PENDING).glob("*.dmp")}


def summary(path: Path) -> str:
    """One line: `SIGSEGV at chromium+0x9c6674d, address 0x3c1310a74000 (<path>)`."""
    data = path.read_bytes()

    def read(offset: int, layout: str) -> tuple[int, ...]:
        return struct.unpack_from(layout, data, offset)

    try:
        _, _, count, directory = read(0, "<4I")
        streams = {kind: rva for kind, _, rva in (read(directory + 12 * i, "<3I") for i in range(count))}
        exception = streams[_EXCEPTION]
        signal, address = read(exception + 8, "<I")[0], read(exception + 24, "<Q")[0]
        context = read(exception + 8 + 152 + 4, "<I")[0]
        rip = read(context + _RIP_IN_CONTEXT, "<Q")[0]
        modules = streams[_MODULE_LIST]
        where = f"{rip:#x}"
        for i in range(read(modules, "<I")[0]):
            base, size = read(modules + 4 + 108 * i, "<QI")
            if base <= rip < base + size:
                name_rva = read(modules + 4 + 108 * i + 20, "<I")[0]
                length = read(name_rva, "<I")[0]
                name = data[name_rva + 4:name_rva + 4 + length].decode("utf-16-le").rsplit("/", 1)[-1]
                where = f"{name}+{rip - base:#x}"
        return f"{SIGNALS.get(signal, f'signal {signal}')} at {where}, address {address:#x} ({path})"
    except (KeyError, struct.error, UnicodeDecodeError):
        return f"unreadable crash report ({path})"
