"""Sends spans, log records and metrics to kpid with the real OpenTelemetry Python SDK and
its OTLP/HTTP exporter (endpoint from OTEL_EXPORTER_OTLP_ENDPOINT), then shuts the
providers down (which flushes everything). Prints what the exporters reported."""
import logging
import sys

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.trace import Status, StatusCode

resource = Resource.create({"service.name": "pyotel"})

tp = TracerProvider(resource=resource)
tp.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
tracer = tp.get_tracer("pipeline")
for i in range(300):
    with tracer.start_as_current_span("frame") as frame:
        frame.set_attribute("n", i)
        with tracer.start_as_current_span("infer") as infer:
            if i % 10 == 0:
                infer.set_status(Status(StatusCode.ERROR, "bad frame"))

lp = LoggerProvider(resource=resource)
lp.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))
log = logging.getLogger("pyotel.app")
log.setLevel(logging.DEBUG)
log.propagate = False
log.addHandler(LoggingHandler(level=logging.DEBUG, logger_provider=lp))
for i in range(40):
    log.info("frame done", extra={"queue_depth": i % 7})
for i in range(5):
    log.warning("slow frame")
log.error("post failed")

reader = PeriodicExportingMetricReader(OTLPMetricExporter(), export_interval_millis=3_600_000)
mp = MeterProvider(resource=resource, metric_readers=[reader])
meter = mp.get_meter("pipeline")
requests = meter.create_counter("requests", unit="{request}")
inflight = meter.create_up_down_counter("inflight")
latency = meter.create_histogram("latency", unit="ms")
temperature = meter.create_gauge("temperature", unit="Cel")
for i in range(100):
    requests.add(2, {"route": "/a"})
    latency.record(3.0 if i % 2 else 30.0, {"route": "/a"})
requests.add(5, {"route": "/b"})
inflight.add(9)
inflight.add(-2)
temperature.set(61.5)
reader.force_flush()
for i in range(10):
    requests.add(1, {"route": "/a"})
latency.record(3.0, {"route": "/a"})

tp.shutdown()
lp.shutdown()
mp.shutdown()
print("sent", file=sys.stderr)
