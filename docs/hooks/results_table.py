"""MkDocs hook: the benchmarks page's table of result files, each with its date, machine and command.

Replaces ``<!-- results table -->`` with one row per ``benchmarks/results/*.json``: the date the file
says it was measured, else the date git last committed it; the machine it names (the development
machine's 2 x86 cores when it names none: every committed figure was measured there); its command.
"""

import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- results table -->"
DEVELOPMENT_MACHINE = "2 x86-64 CPU cores, no GPU (the development machine)"


def _date(path, report):
    if report.get("date"):
        return str(report["date"])
    done = subprocess.run(["git", "log", "-1", "--format=%cs", "--", str(path)], cwd=ROOT, capture_output=True,
                          text=True)
    return done.stdout.strip() or "not committed yet"


def _machine(report):
    machine = report.get("machine") or report.get("environment")
    if isinstance(machine, dict):
        parts = [f"{machine['cpu_count']} CPU cores" if "cpu_count" in machine else "",
                 machine.get("processor", ""), f"TensorFlow {machine['tensorflow']}" if "tensorflow" in machine else ""]
        return ", ".join(part for part in parts if part) or DEVELOPMENT_MACHINE
    return str(machine) if machine else DEVELOPMENT_MACHINE


def results_table():
    """The markdown table of every result file."""
    rows = ["| result | measured | machine | command |", "| --- | --- | --- | --- |"]
    for path in sorted((ROOT / "benchmarks" / "results").glob("*.json")):
        report = json.loads(path.read_text())
        rows.append(f"| `{path.stem}` (table: `benchmarks/results/{path.stem}.md`) | {_date(path, report)} | "
                    f"{_machine(report)} | `{report.get('command', '').strip()}` |")
    return "\n".join(rows)


def on_page_markdown(markdown, page, config, files):
    """Fills the marker of a page with :func:`results_table`."""
    return markdown.replace(MARKER, results_table()) if MARKER in markdown else markdown
