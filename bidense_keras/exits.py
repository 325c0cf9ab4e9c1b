"""Exit codes of the command lines: a message instead of a traceback, and a code that says whose fault it was.

0: done. 1: the run failed (a download, a corrupt file, weights that cannot be right, the LCE
runtime, a conversion, a diverged training, a folder in use by another run).
2: a bad argument (an unknown preset, a path that does not exist, an invalid value, an output that
would replace a file the package did not write); argparse uses 2 for its own usage errors too.
141: the reader of the output went away (``bidense-keras presets | head``), as a shell reports SIGPIPE;
nothing is printed then.
"""

import os
import sys

from bidense_keras.errors import (
    CheckpointError,
    LCERuntimeError,
    NonFiniteWeightsError,
    WeightsError,
)

RUN_FAILED = (WeightsError, LCERuntimeError, CheckpointError, NonFiniteWeightsError, RuntimeError, OSError)
BAD_ARGUMENT = (FileNotFoundError, ValueError, TypeError)
NAMED_PATH = (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError)  # OSErrors about a path given


def exit_code(error):
    """1 or 2 for an error a command line answers with a message; None for one that is a bug (it propagates)."""
    if isinstance(error, NAMED_PATH):
        return 2
    if isinstance(error, RUN_FAILED):
        return 1
    return 2 if isinstance(error, BAD_ARGUMENT) else None


OUTPUT_CLOSED = 141  # 128 + SIGPIPE


def run_command(command, args):
    """Calls ``command(args)``; returns 0, or prints ``error: ...`` to stderr and returns :func:`exit_code`
    (:data:`OUTPUT_CLOSED`, silently, when the output's reader closed it)."""
    try:
        command(args)
        if sys.stdout is not None:  # None when the process started without a standard output
            sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's flush at exit
    except BrokenPipeError:  # the output's reader went away (no command writes to another pipe)
        _silence_stdout()
        return OUTPUT_CLOSED
    except Exception as error:
        code = exit_code(error)
        if code is None:
            raise
        print(f"error: {error}", file=sys.stderr)
        return code
    return 0


def _silence_stdout():
    """Points standard output's file descriptor at the null device: what is left in its buffer goes nowhere."""
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # no file behind it (None, a capture buffer)
        return
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, descriptor)
    os.close(null)
