"""Process hardening: no server process can leave its memory in a core file.

A server process holds sources' session data, private keys for the length of
a request and the database key. A crash that writes a core dump would put all
of it on disk, where a seized server's image finds it; and a dumpable process
can be read through ``/proc/<pid>/mem`` or ptrace by any process of the same
user. So every server process (the gunicorn master, the writer process and
each worker) calls :func:`harden_process` before it holds anything:

- ``RLIMIT_CORE`` 0 (soft and hard): the kernel writes no core file, and the
  process cannot raise the limit again;
- ``PR_SET_DUMPABLE`` 0: no core either (whatever ``core_pattern`` pipes to),
  ``/proc/<pid>/`` becomes root's, and processes of the same user can no
  longer ptrace it. The flag is reset by ``execve``, kept across ``fork``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import resource

log = logging.getLogger(__name__)

PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def harden_process() -> None:
    """Turn core dumps off for this process (and the children it forks).

    Raises :class:`OSError` if the kernel refuses: a server that cannot turn
    them off must not start.
    """
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    libc = _libc()
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, "prctl(PR_SET_DUMPABLE, 0) failed")


def is_dumpable() -> bool:
    """Whether this process may still dump core (``PR_GET_DUMPABLE``)."""
    return bool(_libc().prctl(PR_GET_DUMPABLE, 0, 0, 0, 0))


def core_limit() -> tuple[int, int]:
    """This process's (soft, hard) core file size limit."""
    return resource.getrlimit(resource.RLIMIT_CORE)
