"""Keep a web worker's heap small: at most a few malloc arenas for its many threads.

A worker answers requests on the thread pool (up to 40 threads), and glibc gives threads
their own malloc arenas, up to eight per core, each keeping the memory its thread freed.
A worker then held tens of MiB of freed blocks spread over arenas (bench/search_latency.py,
``anonymous``). ``MALLOC_ARENA_MAX=2``, the usual setting for threaded Python servers, is
applied in the worker itself with ``mallopt`` (arenas made from then on), so it needs no
environment from whoever starts it; an explicit ``MALLOC_ARENA_MAX`` wins.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

M_ARENA_MAX = -8  # glibc's malloc.h
ARENAS = 2


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas in this process; False where that is not glibc or the
    environment already says how many."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, arenas))
