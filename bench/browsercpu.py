"""The CPU time the browser this benchmark launched spends, by Chromium process type.

On a machine without a GPU, Chromium's GPU process rasterises WebGL in software (SwiftShader) on
the same cores the page's models run on, so a page's cost is its renderer's time and the GPU
process's together. Read from /proc (Linux): every chromium process below this one.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

PROC = Path("/proc")
TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def _process_type(command: list[str]) -> str:
    """renderer, gpu-process, utility...; browser for the main process (no --type)."""
    for word in command:
        if word.startswith("--type="):
            return word.removeprefix("--type=")
    return "browser"


def _parents() -> dict[int, int]:
    parents = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat[stat.rindex(")") + 2:].split()[1])
    return parents


def cpu_seconds() -> Counter[str]:
    """CPU seconds (user + system) so far of each type of chromium process below this one."""
    parents = _parents()
    mine = {os.getpid()}
    grew = True
    while grew:  # the launch goes through Playwright's driver, so walk the whole tree
        below = {pid for pid, parent in parents.items() if parent in mine}
        grew = not below <= mine
        mine |= below
    seconds: Counter[str] = Counter()
    for pid in mine:
        try:
            # Chromium rewrites its command line into one space-separated string.
            command = (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").split()
            stat = (PROC / str(pid) / "stat").read_text()
        except OSError:
            continue
        if not command or "chrom" not in Path(command[0]).name:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        seconds[_process_type(command)] += (int(fields[11]) + int(fields[12])) / TICKS_PER_S
    return seconds


def share_of_a_core(before: Counter[str], after: Counter[str], elapsed_s: float) -> dict[str, float]:
    """Each process type's CPU between two readings, as a share of one core (1.0 = a core)."""
    return {kind: (after[kind] - before[kind]) / elapsed_s for kind in sorted(after)}


def describe(shares: dict[str, float]) -> str:
    named = [f"{kind} {share:.0%}" for kind, share in sorted(shares.items(), key=lambda item: -item[1]) if share >= 0.01]
    return f"browser CPU, of one core: {sum(shares.values()):.0%} ({', '.join(named)})"
