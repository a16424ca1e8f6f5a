"""How many threads the numeric libraries may use in this process.

A batch with ``--jobs N`` gives each worker process its share of the cores, so N jobs
do not oversubscribe them; a single process uses them all.
"""

import os

__all__ = ["fft_workers", "set_thread_budget"]

_budget = os.cpu_count() or 1


def fft_workers():
    """Number of threads for ``scipy.fft`` transforms in this process.

    Returns
    -------
    int
        The budget set by :func:`set_thread_budget`, else the CPU count; at least 1.
    """
    return _budget


def set_thread_budget(threads):
    """Limit the threads of scipy.fft and OpenCV in this process.

    Parameters
    ----------
    threads : int
        Threads allowed; at least 1.
    """
    global _budget
    _budget = max(1, int(threads))
    import cv2

    cv2.setNumThreads(_budget)
