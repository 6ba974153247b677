"""Child processes that never outlive the run that started them.

Linux's PR_SET_PDEATHSIG makes the kernel signal a process when its parent dies, however the
parent ended (kill -9 included); elsewhere these are no-ops and the usual heartbeats apply.
"""

from __future__ import annotations

import os
import signal


def die_with_parent(signum: int = signal.SIGTERM) -> bool:
    """Ask the kernel for `signum` when this process's parent dies. False where unsupported,
    or when the parent is already gone (this process was orphaned before it could ask)."""
    parent = os.getppid()
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        if libc.prctl(pr_set_pdeathsig, signum) != 0:
            return False
    except (OSError, AttributeError):
        return False
    # the parent may have died between getppid and prctl: then no signal will ever come
    return os.getppid() == parent and parent != 1


def terminate_with_parent() -> None:
    """A `preexec_fn`: the child gets SIGTERM when the parent dies."""
    die_with_parent(signal.SIGTERM)
