"""Mistakes students really make in ex01, each planted into a copy of solutions/ex01_factorial_task.ipynb."""
from tests.mistakes import Mistake

RETURN = 'return {"n": n, "digits": len(decimal), "value": decimal}'
PRODUCT = "decimal = str(math.factorial(n))"

MISTAKES = [
    Mistake(
        name="returns the value as an int",
        cell="ex-06",
        find=RETURN,
        replace='return {"n": n, "digits": len(decimal), "value": math.factorial(n)}',
        expect=r"expected value as a decimal string, found an int",
        source="DESIGN.md known trap (JSON numbers, 4300-digit limit); Celery docs, Serializers: JSON turns big "
               "numbers into floats in most readers",
    ),
    Mistake(
        name="never lifts Python's 4300-digit limit",
        cell="ex-06",
        find="    sys.set_int_max_str_digits(0)  # n! for n >= 1600 has more than 4300 digits\n",
        replace="",
        expect=r"more than 4300 digits.*sys\.set_int_max_str_digits\(0\)",
        source="Python 3.11 docs, Integer string conversion length limitation; a common Q&A question: "
               "'ValueError: Exceeds the limit (4300 digits) for integer string conversion'",
    ),
    Mistake(
        name="multiplies over range(1, n), one factor short",
        cell="ex-06",
        find=PRODUCT,
        replace="product = 1\n    for i in range(1, n):\n        product *= i\n    decimal = str(product)",
        expect=r"off by one",
        source="concept: range(lo, hi) stops before hi (the most common loop mistake)",
    ),
    Mistake(
        name="returns only the digits, not the dict",
        cell="ex-06",
        find=RETURN,
        replace="return decimal",
        expect=r"to return a dict with keys n, digits and value, found str",
        source="concept: the exercise's result contract (the API's factorial result)",
    ),
    Mistake(
        name="names the result's key 'result' instead of 'value'",
        cell="ex-06",
        find=RETURN,
        replace='return {"n": n, "digits": len(decimal), "result": decimal}',
        expect=r"keys n, digits and value, found dict",
        source="concept: the exercise's result contract",
    ),
    Mistake(
        name="counts the digits of n instead of n!",
        cell="ex-06",
        find=RETURN,
        replace='return {"n": n, "digits": len(str(n)), "value": decimal}',
        expect=r"expected n=\d+ and digits=\d+, found n=\d+ and digits=",
        source="concept: digits of the result",
    ),
    Mistake(
        name="names the task's argument 'number', not n",
        cell="ex-06",
        find=("def factorial(n):", "math.factorial(n)", '{"n": n,'),
        replace=("def factorial(number):", "math.factorial(number)", '{"n": number,'),
        expect=r"takes exactly one argument, n",
        source="Celery docs, Calling Tasks: keyword arguments are matched by name; a common Q&A question: "
               "'TypeError: got an unexpected keyword argument' from a task",
    ),
    Mistake(
        name="defines the task in the notebook, not in a file",
        cell="ex-06",
        find="%%writefile work/ex01_tasks.py\n",
        replace="",
        expect=r"defined in a notebook cell exists only in the notebook's process",
        source="LESSONS.md confusion 2; Celery docs, Tasks, 'Names' and the 'Received unregistered task' error; "
               "a common Q&A question: 'Received unregistered task of type'",
    ),
    Mistake(
        name="forgets the @shared_task decorator",
        cell="ex-06",
        find="@shared_task\n",
        replace="",
        expect=r"found no Celery task in it",
        source="Celery docs, Tasks: a task is a function decorated with @app.task or @shared_task",
    ),
    Mistake(
        name="edits the file after loading it and never loads it again",
        cell="ex-06",
        find=RETURN,
        replace='return {"n": n, "digits": len(decimal), "value": int(decimal)}',
        extra_cells={"ex-12": ("outcome = run_task(",
                               "Path('work/ex01_tasks.py').write_text(Path('work/ex01_tasks.py').read_text()"
                               ".replace('int(decimal)', 'decimal'))  # fixed, but not loaded again\n"
                               "outcome = run_task(")},
        expect=r"changed since cluster\.add_tasks loaded it",
        source="concept: the workers run the copy add_tasks loaded (the notebook says: after every edit, run "
               "this cell and the cells below it); a common Q&A question: 'Celery does not pick up code changes'",
    ),
]
