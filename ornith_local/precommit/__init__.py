"""Pre-commit checks on exactly what is staged, with fix suggestions from a local model.

    staged.py   the staged change, read-only, and its copy in a temporary directory
    related.py  the tests related to the staged files ({related_tests})
    checks.py   configured or default checks, their placeholders, the sandboxed run
    model.py    which model, and the child process that holds it to the time budget
    suggest.py  prompt, grammar, edits, guard and verification of a proposed fix
    engine.py   one run from top to bottom; the saved suggestion; applying it to the working tree
    hook.py     the git hook: install / uninstall, chaining an existing hook

Nothing is imported here: the git hook imports only what a passing run needs, to stay fast.
"""
