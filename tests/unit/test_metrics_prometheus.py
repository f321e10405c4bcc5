"""Metrics from Prometheus range queries: the PromQL we send, the series we return, and one
failing query leaving the other metrics intact. Prometheus here is a small HTTP stub on
loopback that answers like the real /api/v1/query_range."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest

from managed_services.kube import Kube
from managed_services.observe import collect_metrics, metric_window


class Stub(BaseHTTPRequestHandler):
    queries: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        params = {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query).items()}
        Stub.queries.append(params)
        if "memory" in params["query"]:
            body = {"status": "error", "errorType": "bad_data", "error": "memory series unavailable"}
        else:
            body = {
                "status": "success",
                "data": {
                    "resultType": "matrix",
                    "result": [{"metric": {}, "values": [[1700000000, "0.25"], [1700000060, "0.5"]]}],
                },
            }
        payload = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def prometheus() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Stub.queries.clear()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_range_queries_and_per_metric_errors(prometheus: str) -> None:
    window = metric_window(since=600, start=None, end=None, step=60)
    series = collect_metrics(
        Kube(), prometheus, "ms-acme-shop", "db-abcde", ["cpu_usage", "memory_usage", "iops"], window
    )
    by_name = {s.name: s for s in series}
    cpu = by_name["cpu_usage"]
    assert cpu.status == "ok" and cpu.unit == "cores" and cpu.source == "prometheus"
    assert [p.value for p in cpu.points] == [0.25, 0.5]
    assert by_name["memory_usage"].status == "error"
    assert "memory series unavailable" in (by_name["memory_usage"].error or "")
    assert by_name["iops"].status == "error" and "unknown metric" in (by_name["iops"].error or "")
    cpu_query = Stub.queries[0]
    assert cpu_query["query"].startswith("avg(sum by (pod) (rate(container_cpu_usage_seconds_total{")
    assert 'namespace="ms-acme-shop"' in cpu_query["query"] and 'pod=~"db-abcde-[0-9]+"' in cpu_query["query"]
    assert cpu_query["step"] == "60"
    assert float(cpu_query["end"]) - float(cpu_query["start"]) == pytest.approx(600, abs=1)
