"""Writes a log with Python's own `logging` for tests/formats.rs: the cookbook format
(`%(asctime)s - %(name)s - %(levelname)s - %(message)s`) to argv[1] and the
`basicConfig()` default (`LEVEL:name:message`) to argv[2], each with a real traceback from
`logger.exception`. The values logged are given on stdin, one `latency_ms hit model` a line."""

import logging
import sys


def setup(path, fmt):
    handler = logging.FileHandler(path)
    if fmt:
        handler.setFormatter(logging.Formatter(fmt))
    else:
        handler.setFormatter(logging.Formatter(logging.BASIC_FORMAT))
    return handler


def main():
    cookbook = logging.getLogger("pipeline")
    cookbook.addHandler(setup(sys.argv[1], "%(asctime)s - %(name)s - %(levelname)s - %(message)s"))
    basic = logging.getLogger("worker")
    basic.addHandler(setup(sys.argv[2], None))
    for log in (cookbook, basic):
        log.setLevel(logging.DEBUG)
        log.propagate = False
    for batch, line in enumerate(sys.stdin):
        latency_ms, hit, model = line.split()
        for log in (cookbook, basic):
            log.info(
                "batch done batch=%d seq=%d latency_ms=%s hit=%s model=%s",
                batch, 1000 + batch, latency_ms, hit, model,
            )
    for log in (cookbook, basic):
        log.warning("queue almost full depth=%d", 97)
        try:
            {}["missing"]
        except KeyError:
            try:
                raise RuntimeError("cannot load batch")
            except RuntimeError:
                log.exception("batch failed")
        log.debug("retrying")


main()
