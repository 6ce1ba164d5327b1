"""Mistakes students really make in ex04, each planted into a copy of solutions/ex04_chord.ipynb.

Each find is a fragment of a solution line, never a whole one: `labapp pack` refuses any file holding a
whole solution line.
"""
from . import Mistake

CANVAS = "Celery docs, Canvas: chords (https://docs.celeryq.dev/en/stable/userguide/canvas.html#chords)"
BODY = 'chord(header)(sig("ex04_tasks.combine", kwargs={"n": n}))'

MISTAKES = [
    Mistake(
        name="returns chord(header, body), a signature that is never sent",
        cell="ex-08",
        find="chord(header)(sig(",
        replace="chord(header, sig(",
        expect=r"found the chord itself, a Signature .*never sent",
        source=f"{CANVAS}: chord(header, body) only describes the work, calling it sends it; issue 24",
    ),
    Mistake(
        name="a group with no callback: the combine step is missing",
        cell="ex-08",
        find=BODY,
        replace="header.apply_async()",
        expect=r"group with no\s+callback.*combine step is missing",
        source=f"{CANVAS} (a group alone returns a GroupResult, a list of parts); issue 24",
    ),
    Mistake(
        name="waits for the parts in the notebook (.get()), then sends combine on its own",
        cell="ex-08",
        find=BODY,
        replace='sig("ex04_tasks.combine", args=(header.apply_async().get(timeout=60),), kwargs={"n": n}).delay()',
        expect=r"combine sent on its own, with no group\s+before it.*wait for the parts",
        source="LESSONS.md confusion 3 (.get() blocks); Celery docs, Tasks: avoid launching synchronous subtasks",
    ),
    Mistake(
        name="waits for the chord inside factorial_in_parts and returns the value",
        cell="ex-08",
        find='kwargs={"n": n}))',
        replace='kwargs={"n": n})).get(timeout=60)',
        expect=r"found the value itself.*waited for the result",
        source="LESSONS.md confusion 3 (.get() blocks); a common Q&A question: chord returns a dict, not a result",
    ),
    Mistake(
        name="an immutable body (immutable=True, like .si()) that never receives the parts",
        cell="ex-08",
        find='kwargs={"n": n}))',
        replace='kwargs={"n": n}, immutable=True))',
        expect=r"combine got no parts: an immutable signature",
        source=f"{CANVAS}: immutable signatures (.si()) ignore the parent's results",
    ),
    Mistake(
        name="split in pieces of n // parts, which drops the remainder",
        cell="ex-06",
        find="1 + round(i * n / parts)",
        replace="1 + i * (n // parts)",
        expect=r"drop the remainder",
        source="the concept (integer division leaves n % parts over); issue 24: it was called 'off by one?'",
    ),
    Mistake(
        name="split starts at 0 and stops before n (range's end is exclusive)",
        cell="ex-06",
        find="1 + round(i * n / parts)",
        replace="round(i * n / parts)",
        expect=r"\[0\] outside 1\.\.10.*off by one\?",
        source="the concept: range(lo, hi) stops before hi; n! is 1 x 2 x ... x n",
    ),
    Mistake(
        name="a step of n // parts that leaves one range too many",
        cell="ex-06",
        find="### BEGIN SOLUTION\n",
        replace="### BEGIN SOLUTION\n    step = max(1, n // parts)\n"
                "    return [(lo, min(lo + step, n + 1)) for lo in range(1, n + 1, step)]\n",
        expect=r"expected at most 3 ranges.*one range too many",
        source="a common Q&A question: splitting a range into n chunks with a fixed step gives n + 1 chunks",
    ),
    Mistake(
        name="a step rounded up, so the last range runs past n",
        cell="ex-06",
        find="### BEGIN SOLUTION\n",
        replace="### BEGIN SOLUTION\n    step = -(-n // parts)\n"
                "    return [(lo, lo + step) for lo in range(1, n + 1, step)]\n",
        expect=r"outside 1\.\.10.*runs past n",
        source="a common Q&A question: chunking with a ceiling step and no clipping of the last chunk",
    ),
]
