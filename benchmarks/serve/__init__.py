"""The receiver's benchmark, ``python -m benchmarks.serve``: linkback serve and django-wm."""
