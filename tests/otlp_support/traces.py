"""Sends 40 traces to kpid with the real OpenTelemetry Python SDK and its OTLP/HTTP exporter
(endpoint from OTEL_EXPORTER_OTLP_ENDPOINT): trace i is a `request` root starting at
BASE_NS + i s, lasting 10 ms × (1 + 7i mod 40), with children `decode` (+1 ms, 2 ms) and
`infer` (+3 ms, to 2 ms before the root's end) and `infer`'s child `kernel` (+4 ms, 1 ms);
`infer` fails when i is a multiple of 6. tests/traces.rs checks kpid's sample against
the same formula."""
import os

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.trace import Status, StatusCode

MS = 1_000_000
base = int(os.environ["BASE_NS"])
tp = TracerProvider(resource=Resource.create({"service.name": "pytrace"}))
tp.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
tracer = tp.get_tracer("pipeline")
for i in range(40):
    t0 = base + i * 1_000_000_000
    dur = 10 * MS * (1 + (7 * i) % 40)
    root = tracer.start_span("request", start_time=t0, attributes={"i": i})
    ctx = trace.set_span_in_context(root)
    decode = tracer.start_span("decode", context=ctx, start_time=t0 + 1 * MS)
    decode.end(end_time=t0 + 3 * MS)
    infer = tracer.start_span("infer", context=ctx, start_time=t0 + 3 * MS,
                              attributes={"model": "resnet"})
    kernel = tracer.start_span("kernel", context=trace.set_span_in_context(infer),
                               start_time=t0 + 4 * MS)
    kernel.end(end_time=t0 + 5 * MS)
    if i % 6 == 0:
        infer.set_status(Status(StatusCode.ERROR, "out of memory"))
    infer.end(end_time=t0 + dur - 2 * MS)
    root.end(end_time=t0 + dur)
tp.shutdown()
