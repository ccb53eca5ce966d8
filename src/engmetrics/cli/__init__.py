"""The `engmetrics` command line: a thin shell over the library."""
