"""Stands in as `__main__.__file__` for processes whose `__main__` has no file (see cvw/__init__.py).

Deliberately empty: multiprocessing's spawn start method runs this file as the child's `__main__`, which
must do nothing.
"""
