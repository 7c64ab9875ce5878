"""``python -m commentsvc``: the ``commentsvc`` command, from whichever Python runs it.

For a caller that has the interpreter but not the console script's path (granian_serve.py's
flush at stop: pip puts scripts in another folder than the interpreter on some systems).
"""

from commentsvc.cli import main

if __name__ == "__main__":
    main(prog_name="commentsvc")
