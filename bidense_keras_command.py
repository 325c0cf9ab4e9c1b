"""Entry point of the ``bidense-keras`` command (the ``console_scripts`` target).

It lives outside the package so that it can ask ``bidense_keras`` to leave Keras out of its import
while the command line parses: ``--help``, ``--version`` and usage errors then answer in a fraction of
a second, and :func:`bidense_keras.cli.main` imports the models (Keras, TensorFlow) once the
arguments are known to be good.
"""

parsing = False  # True while main imports the package (read by bidense_keras/__init__.py)


def main(argv=None):
    """Runs ``bidense-keras`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    global parsing
    parsing = True
    try:
        from bidense_keras import cli
    finally:
        parsing = False
    return cli.main(argv)
