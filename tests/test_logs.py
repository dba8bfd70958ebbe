"""Log formatting: exception messages (which may echo a secret) never reach a log line; JSON lines parse."""

import io
import json
import logging

from secretsync.logs import JSONFormatter, TextFormatter

CANARY = "canary-logs-5b1e"


def _log_with(formatter) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger("secretsync.test.logs")
    logger.handlers[:] = [handler]
    logger.propagate = False
    try:
        try:
            raise KeyError(CANARY)
        except KeyError as inner:
            raise ValueError(f"bad value {CANARY}") from inner
    except ValueError:
        logger.exception("handler failed")
    return stream.getvalue()


def test_text_traceback_withholds_messages():
    text = _log_with(TextFormatter("%(levelname)s %(message)s"))
    assert "handler failed" in text
    assert "ValueError: <message withheld> (after KeyError)" in text
    assert "test_logs.py" in text  # frames are kept for debugging
    assert CANARY not in text


def test_json_lines_parse_and_withhold_messages():
    line = _log_with(JSONFormatter()).strip()
    entry = json.loads(line)
    assert entry["level"] == "error" and entry["msg"] == "handler failed"
    assert entry["error"] == "ValueError"
    assert CANARY not in line
