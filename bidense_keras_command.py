"""Entry point of the ``bidense-keras`` command (the ``console_scripts`` target).

It lives outside the package so that it can ask ``bidense_keras`` to leave Keras out of its import
while the command line parses: ``--help``, ``--version`` and usage errors then answer in a fraction of
a second, and :func:`bidense_keras.cli.main` imports the models (Keras, TensorFlow) once the
arguments are known to be good. To run a command inside a program, call :func:`bidense_keras.cli.main`.
"""

import sys

parsing = False  # True while main imports the package (read by bidense_keras/__init__.py)


def main():
    """Runs ``bidense-keras`` on ``sys.argv`` and ends the process with its exit code.

    It always ends the process: after ``--help`` or ``presets`` the package stays imported without its
    Keras objects registered, so no other code may go on with it in this process.
    """
    global parsing
    parsing = True
    try:
        from bidense_keras import cli
    finally:
        parsing = False
    sys.exit(cli.main())


if __name__ == "__main__":
    main()
