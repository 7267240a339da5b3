"""Make the plugin's modules importable by name in these tests (the package is also installed)."""
