"""Helpers for CLI tests: what a clean user error looks like."""


def clean_error(result, code: int = 1) -> str:
    """Assert that a CliRunner result is a clean user error (exit status ``code``, no exception
    escaped the command, no traceback, one 'Error:' message) and return its output."""
    out = result.output
    assert result.exit_code == code, out
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in out, out
    assert "Error:" in out, out
    return out
