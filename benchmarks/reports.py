"""Writing a benchmark's results: ``NAME.json`` (the full report) and ``NAME.md`` (its table)."""

import json

from bidense_keras.files import write_text_atomic


def write_report(json_path, report, table):
    """Writes ``report`` as JSON to ``json_path`` and ``table`` beside it as ``.md`` (each atomically).

    Prints the table and returns 0 (a script's exit status).
    """
    json_path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(json_path, json.dumps(report, indent=2) + "\n")
    write_text_atomic(json_path.with_suffix(".md"), table)
    print(table)
    return 0
