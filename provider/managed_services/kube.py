"""The only module that talks to Kubernetes: one apply path, reads, deletes, logs, metrics.

Objects travel as plain dicts (what `render` produces and what the operations read);
lightkube does the HTTP. Every request is counted (`RequestStats`) so benchmarks can report
reads and writes per operation, and every failure becomes an engine error:

    404                      -> NotFound (callers that expect absence get None instead)
    409                      -> Conflict
    401/403                  -> Forbidden (the message names the verb and the resource)
    422/400                  -> InvalidInput (the apiserver's own message)
    connection refused, TLS  -> KubernetesUnavailable
"""

from __future__ import annotations

import builtins
import contextlib
import os
import threading
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import yaml
from lightkube import ApiError, Client, KubeConfig
from lightkube.codecs import from_dict
from lightkube.config.kubeconfig import SingleConfig
from lightkube.core.generic_client import GenericSyncClient
from lightkube.core.resource import NamespacedResource
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.core_v1 import Pod
from lightkube.types import CascadeType

from . import errors

FIELD_MANAGER = "managed-services"
Obj = dict[str, Any]

PodMetrics = create_namespaced_resource("metrics.k8s.io", "v1beta1", "PodMetrics", "pods")

_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# lightkube decodes responses with msgspec, whose lazily built type information crashes the
# interpreter (SIGSEGV) when two threads decode a type for the first time together; the
# dynamic provider runs hooks in threads. One request at a time per process avoids it.
_REQUEST_LOCK = threading.RLock()


@dataclass
class RequestStats:
    """Requests sent to the apiserver since the last reset, split into reads and writes."""

    reads: int = 0
    writes: int = 0
    # The latest requests, for error messages; bounded so a long `logs --follow` stays small.
    log: deque[str] = field(default_factory=lambda: deque(maxlen=200))

    def reset(self) -> None:
        self.reads = self.writes = 0
        self.log.clear()


def load_config(kubeconfig: str | Path | None, context: str | None) -> SingleConfig:
    """A kubeconfig path, or kubeconfig content, or $KUBECONFIG / ~/.kube/config / in-cluster."""
    content = kubeconfig is not None and "\n" in str(kubeconfig)
    try:
        if content:
            config = KubeConfig.from_dict(yaml.safe_load(str(kubeconfig)))
        elif kubeconfig is not None:
            config = KubeConfig.from_file(kubeconfig)
        elif os.environ.get("KUBECONFIG"):
            config = KubeConfig.from_file(os.environ["KUBECONFIG"].split(os.pathsep)[0])
        else:
            config = KubeConfig.from_env()
        single = config.get(context_name=context)
    except Exception as exc:  # lightkube raises several types for a missing or bad config
        where = "the given kubeconfig content" if content else str(kubeconfig or "KUBECONFIG")
        raise errors.KubernetesUnavailable(
            f"no usable Kubernetes configuration ({where}): {exc}. Set KUBECONFIG or pass kubeconfig/context."
        ) from None
    if single is None:
        raise errors.KubernetesUnavailable(f"the kubeconfig has no context {context!r}")
    return single


class Kube:
    """A connection to one cluster. Cheap to create; the HTTP client is built on first use."""

    def __init__(self, kubeconfig: str | Path | None = None, context: str | None = None) -> None:
        self._kubeconfig = kubeconfig
        self._context = context
        self._client: Client | None = None
        self.stats = RequestStats()

    @property
    def client(self) -> Client:
        with _REQUEST_LOCK:
            if self._client is None:
                config = load_config(self._kubeconfig, self._context)
                self._client = Client(config, field_manager=FIELD_MANAGER, timeout=httpx2.Timeout(30.0))
                self._count_requests(self._client)
            return self._client

    def _count_requests(self, client: Client) -> None:
        generic: GenericSyncClient = client._client
        http: httpx2.Client = generic._client

        def count(request: httpx2.Request) -> None:
            if request.method in _WRITE_METHODS:
                self.stats.writes += 1
            else:
                self.stats.reads += 1
            self.stats.log.append(f"{request.method} {request.url.path}")

        http.event_hooks["request"].append(count)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- writes ---------------------------------------------------------------------------

    def apply(self, obj: Obj) -> Obj:
        """Server-side apply with our field manager; we own every field we render."""
        with translated(f"apply {_describe(obj)}"):
            resource = from_dict(obj)
            result = self.client.apply(resource, field_manager=FIELD_MANAGER, force=True)
            return _to_dict(result)

    def patch(self, kind: type[Any], name: str, patch: Obj, namespace: str | None = None) -> Obj:
        with translated(f"patch {kind.__name__} {namespace}/{name}"):
            result = self.client.patch(kind, name, patch, namespace=namespace)
            return _to_dict(result)

    def delete(
        self,
        kind: type[Any],
        name: str,
        namespace: str | None = None,
        cascade: CascadeType = CascadeType.BACKGROUND,
    ) -> bool:
        """Delete; False when it was already gone."""
        try:
            with translated(f"delete {kind.__name__} {namespace}/{name}"):
                self.client.delete(kind, name, namespace=namespace, cascade=cascade)
        except errors.NotFound:
            return False
        return True

    # -- reads ----------------------------------------------------------------------------

    def get(self, kind: type[Any], name: str, namespace: str | None = None) -> Obj | None:
        """The object, or None when it does not exist."""
        try:
            with translated(f"get {kind.__name__} {namespace}/{name}"):
                return _to_dict(self.client.get(kind, name, namespace=namespace))
        except errors.NotFound:
            return None

    def list(
        self, kind: type[Any], namespace: str | None = None, labels: Mapping[str, str] | None = None
    ) -> builtins.list[Obj]:
        """Objects of a kind; all namespaces when namespace is None and the kind is namespaced."""
        ns: str | None = namespace
        if ns is None and issubclass(kind, NamespacedResource):
            ns = "*"
        try:
            with translated(f"list {kind.__name__}"):
                selector: Any = dict(labels) if labels else None
                return [_to_dict(item) for item in self.client.list(kind, namespace=ns, labels=selector)]
        except errors.NotFound:
            return []

    def logs(self, pod: str, namespace: str, container: str | None, since: int | None) -> builtins.list[str]:
        with translated(f"read logs of pod {namespace}/{pod}"):
            return builtins.list(
                self.client.log(pod, namespace=namespace, container=container, since=since, timestamps=True)
            )

    def pod_metrics(self, namespace: str, labels: dict[str, str]) -> builtins.list[Obj]:
        with translated("list PodMetrics (metrics.k8s.io)"):
            selector: Any = dict(labels)
            return [_to_dict(m) for m in self.client.list(PodMetrics, namespace=namespace, labels=selector)]

    def pods(self, namespace: str, labels: dict[str, str]) -> builtins.list[Obj]:
        return self.list(Pod, namespace=namespace, labels=labels)


def _to_dict(obj: Any) -> Obj:
    if isinstance(obj, dict):
        return obj
    result: Obj = obj.to_dict()
    return result


def _describe(obj: Obj) -> str:
    meta = obj.get("metadata", {})
    where = f"{meta.get('namespace')}/" if meta.get("namespace") else ""
    return f"{obj.get('kind')} {where}{meta.get('name')}"


@contextlib.contextmanager
def translated(action: str) -> Iterator[None]:
    """Turn lightkube/httpx failures into engine errors that say what we were doing."""
    try:
        with _REQUEST_LOCK:
            yield
    except ApiError as exc:
        code = exc.status.code
        message = exc.status.message or str(exc)
        if code == 404:
            raise errors.NotFound(f"{action}: {message}") from None
        if code == 409:
            raise errors.Conflict(f"{action}: {message}") from None
        if code in (401, 403):
            raise errors.Forbidden(f"{action}: {message}") from None
        if code in (400, 422):
            raise errors.InvalidInput("kubernetes", f"{action}: {message}") from None
        raise errors.KubernetesUnavailable(f"{action}: HTTP {code}: {message}") from None
    except (httpx2.TransportError, OSError) as exc:
        raise errors.KubernetesUnavailable(f"{action}: cannot reach the Kubernetes API: {exc}") from None
