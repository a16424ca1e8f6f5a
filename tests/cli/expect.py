"""Assertions shared by the CLI tests."""


def assert_one_error(result, code, *fragments):
    """The command failed with ``code`` and one ``deblur: error:`` line holding every fragment."""
    assert result.exit_code == code, (result.exit_code, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("deblur: error: ") and "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
