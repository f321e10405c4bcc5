"""Isolation: each project has its own namespace, labelled with its workspace and project, and
each service's NetworkPolicy admits only namespaces carrying its own project's labels (plus the
service's own pods for replication)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pytest
from lightkube import Client
from lightkube.resources.core_v1 import Namespace
from lightkube.resources.networking_v1 import NetworkPolicy

from managed_services import ManagedService, ManagedServices

LABEL_WORKSPACE_ID = "managed-services.io/workspace-id"
LABEL_PROJECT_ID = "managed-services.io/project-id"
LABEL_SERVICE_ID = "managed-services.io/service-id"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"


@dataclass(frozen=True)
class Tenant:
    workspace_id: str
    project_id: str
    service: ManagedService


@pytest.fixture(scope="module")
def tenants(ms: ManagedServices, workspaces: Callable[[str], str]) -> list[Tenant]:
    """Two projects of one workspace, the same project name in another workspace, and two pairs
    whose ids differ only in where the dash is (`<w>-x`/`y` against `<w>`/`x-y`)."""
    first, second = workspaces(""), workspaces("")
    undashed = workspaces("")
    dashed = f"{undashed}-x"  # starts with a made id, so teardown deletes it too
    pairs = [(first, "alpha"), (first, "beta"), (second, "alpha"), (dashed, "y"), (undashed, "x-y")]
    made = []
    for workspace_id, project_id in pairs:
        service = ms.create(
            workspace_id=workspace_id, project_id=project_id, name="cache", slug="valkey-8", volume_size="1Gi"
        )
        made.append(Tenant(workspace_id, project_id, service))
    return made


def admits(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def test_every_project_has_its_own_namespace_with_its_own_labels(tenants: list[Tenant], kube: Client) -> None:
    namespaces = [t.service.namespace for t in tenants]
    assert len(set(namespaces)) == len(tenants), namespaces
    seen_labels = set()
    for tenant in tenants:
        namespace = kube.get(Namespace, tenant.service.namespace)
        assert namespace.metadata is not None and namespace.metadata.labels is not None
        labels = namespace.metadata.labels
        assert labels[LABEL_WORKSPACE_ID] == tenant.workspace_id
        assert labels[LABEL_PROJECT_ID] == tenant.project_id
        seen_labels.add((labels[LABEL_WORKSPACE_ID], labels[LABEL_PROJECT_ID]))
    assert len(seen_labels) == len(tenants)


def test_network_policy_admits_only_the_own_project(tenants: list[Tenant], kube: Client) -> None:
    ns_labels = {}
    for tenant in tenants:
        namespace = kube.get(Namespace, tenant.service.namespace)
        assert namespace.metadata is not None
        ns_labels[tenant.service.namespace] = dict(namespace.metadata.labels or {})

    for tenant in tenants:
        service = tenant.service
        policies = list(kube.list(NetworkPolicy, namespace=service.namespace, labels={LABEL_SERVICE_ID: service.id}))
        assert [p.metadata.name for p in policies if p.metadata] == [service.id]
        spec = policies[0].spec
        assert spec is not None
        own_pods = {LABEL_MANAGED_BY: "managed-services", LABEL_SERVICE_ID: service.id}
        assert spec.podSelector is not None and spec.podSelector.matchLabels == own_pods
        assert spec.policyTypes == ["Ingress"]
        assert spec.ingress, "an empty ingress list would deny everything, even the project"

        namespace_selectors = []
        for rule in spec.ingress:
            assert rule.from_, "a rule without peers admits everyone"
            assert rule.ports, "a rule without ports admits every port"
            for peer in rule.from_:
                assert peer.ipBlock is None
                if peer.namespaceSelector is not None:
                    # Whole namespaces: only by the project's labels, never all pods of any namespace.
                    assert peer.namespaceSelector.matchExpressions is None
                    assert peer.namespaceSelector.matchLabels == {
                        LABEL_WORKSPACE_ID: tenant.workspace_id,
                        LABEL_PROJECT_ID: tenant.project_id,
                    }
                    namespace_selectors.append(peer.namespaceSelector.matchLabels)
                else:
                    # No namespaceSelector: pods of the policy's own namespace, and only its own.
                    assert peer.podSelector is not None
                    assert peer.podSelector.matchLabels == own_pods
        assert namespace_selectors, "the project's other namespaces are admitted by label"

        admitted = {ns for ns, labels in ns_labels.items() if any(admits(s, labels) for s in namespace_selectors)}
        assert admitted == {service.namespace}, f"{service.namespace} admits {admitted}"
