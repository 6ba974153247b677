"""The four scenarios, one folder each, over the shared core modules in `edgeload/`."""
