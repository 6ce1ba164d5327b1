"""The class's Celery tasks: a long task that reports its progress, and the factorial activity.

`shared_task` ties each task to whichever Celery app is running (the one in app.py), so this
file does not import app.py and there is no circular import.
"""

import math
import sys
import time

from celery import shared_task

MAX_N = 20_000  # 20000! has 77,338 digits: a big number, still quick to compute and to send

# Python refuses to turn an int of more than 4300 digits into text (a guard against slow
# conversions). 20000! needs 77,338 digits, so raise that limit in the process that formats it.
if hasattr(sys, "set_int_max_str_digits"):
    sys.set_int_max_str_digits(100_000)


@shared_task(bind=True)
def long_task(self, x):
    """Work for x seconds, reporting PROGRESS (current/total) once a second."""
    total = math.ceil(x)
    for current in range(total):
        self.update_state(state="PROGRESS", meta={"current": current, "total": total})
        time.sleep(min(1, x - current))
    return {"x": x, "message": f"worked for {x} seconds"}


@shared_task
def factorial(n):
    """n! as a decimal string: JSON numbers cannot carry an integer this big."""
    if type(n) is not int or not 0 <= n <= MAX_N:  # type(True) is bool, so True is refused
        raise ValueError(f"n must be a whole number from 0 to {MAX_N}, not {n!r}")
    return str(math.factorial(n))
