"""The aiproxy command line."""
