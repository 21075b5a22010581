"""Write a file so that readers only ever see the old file or the complete new one.

One mechanism for every artefact the project writes (mp4 rollouts, shipped weights, datasets):
write to a temp file in the target's directory, fsync it, give it the usual file mode,
rename it over the target, fsync the directory. On any error the temp file is removed and an
existing target is left untouched.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def default_file_mode() -> int:
    """0o666 minus the process umask: what open() would have given (mkstemp gives 0o600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def fsync_path(path: Path, flags: int = os.O_RDONLY) -> None:
    """fsync a file or a directory by path; a filesystem that refuses is left as it is."""
    try:
        fd = os.open(path, flags)
    except OSError:
        return  # some filesystems refuse to open a directory; the rename is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_output(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temp path beside `target`; on a clean exit it replaces `target` atomically."""
    target = Path(target)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        fsync_path(tmp)
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_path(target.parent)
