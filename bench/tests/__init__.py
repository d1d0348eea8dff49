"""A package, so that pytest names these modules tests.* rather than bench.tests.*, which would
shadow the installed bench package under --import-mode=importlib."""
