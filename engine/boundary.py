"""One error boundary per command: bad input is one paragraph and exit 2, a bug is one line and a log.

    if __name__ == "__main__":
        sys.exit(guarded(main))                      # main(argv) -> exit status
        sys.exit(guarded(main, expected=(MyError,))) # a command's own input errors

- An expected error (bad input: a MetaprogramError, refused text, a UsageError, or a command's own
  kinds) prints its message, bounded, and exits 2.
- An unexpected error writes its traceback to <output_root>/logs/crash-<time>-<pid>.log (the system's
  temporary folder when that cannot be written) and prints one line naming that file; exit 1.
- Ctrl-C exits 130, as a shell reports it.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from engine.bounds import InputError, bounded_lines, shorten

EXIT_INVALID = 2
EXIT_CRASHED = 1
EXIT_CTRL_C = 130


class UsageError(ValueError):
    """Bad input to a command: its message is the whole answer."""


def expected_errors() -> tuple[type[BaseException], ...]:
    import yaml

    from engine.metaprogram import MetaprogramError

    return (MetaprogramError, InputError, UsageError, yaml.YAMLError, UnicodeDecodeError)


def guarded(
    main: Callable[..., int | None],
    argv: Sequence[str] | None = None,
    *,
    expected: tuple[type[BaseException], ...] = (),
) -> int:
    """Run `main(argv)` (or `main()` when argv is None) inside the boundary; return the exit status."""
    try:
        status = main(list(argv)) if argv is not None else main()
        return int(status or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_CTRL_C
    except SystemExit:
        raise
    except RecursionError:  # input nested past what Python can follow: input, not a bug
        print("the input is nested too deeply to read", file=sys.stderr)
        return EXIT_INVALID
    except BaseException as exc:
        if isinstance(exc, (*expected_errors(), *expected)):
            print(bounded(str(exc)), file=sys.stderr)
            return EXIT_INVALID
        if not isinstance(exc, Exception):
            raise
        log = crash_log(exc)
        print(f"unexpected error: {shorten(type(exc).__name__ + ': ' + str(exc), 200)}; traceback in {log}",
              file=sys.stderr)  # fmt: skip
        return EXIT_CRASHED


def bounded(message: str) -> str:
    """A message as printed: its first lines, each cut (engine/bounds.py)."""
    return "\n".join(bounded_lines(message.splitlines() or [""]))


def crash_log(exc: BaseException) -> Path:
    """Write the traceback of `exc` where it can be read later; return the file."""
    text = "".join(traceback.format_exception(exc))
    name = f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    for folder in (_output_logs(), Path(tempfile.gettempdir())):
        if folder is None:
            continue
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(f"{' '.join(sys.argv)}\n\n{text}")
            return folder / name
        except OSError:
            continue
    return Path(name)


def _output_logs() -> Path | None:
    try:
        from engine.paths import default_paths

        return default_paths().root("output_root") / "logs"
    except Exception:  # the environment names no usable root: the temporary folder will do
        return None
