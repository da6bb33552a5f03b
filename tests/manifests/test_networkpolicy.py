"""The NetworkPolicy in metacontroller/: only Metacontroller reaches the hooks, and the hooks
reach only DNS and web ports.

Its selectors are checked against the objects they must match (the Deployment's pods, the
container port the Service forwards to), so that renaming a label or a port breaks this test
instead of silently cutting Metacontroller off, or letting everyone in.
"""

from typing import Any

import pytest

NAME = "aim-model-source-hooks"
METACONTROLLER_NAMESPACE = "metacontroller"
# What Metacontroller's production kustomization labels its pods with (commonLabels).
METACONTROLLER_POD_LABELS = {"app.kubernetes.io/name": "metacontroller"}

Install = dict[tuple[str, str], dict[str, Any]]


@pytest.fixture(scope="module")
def policy(install: Install) -> dict[str, Any]:
    spec: dict[str, Any] = install[("NetworkPolicy", NAME)]["spec"]
    return spec


@pytest.fixture(scope="module")
def deployment(install: Install) -> dict[str, Any]:
    found: dict[str, Any] = install[("Deployment", NAME)]
    return found


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels only, as ours are written) selects `labels`."""
    assert set(selector) == {"matchLabels"}, selector
    return all(labels.get(key) == value for key, value in selector["matchLabels"].items())


def ports(rule: dict[str, Any]) -> set[tuple[str, int]]:
    return {(p.get("protocol", "TCP"), p["port"]) for p in rule["ports"]}


def test_the_policy_is_installed_with_the_hooks(
    install: Install, deployment: dict[str, Any]
) -> None:
    policy = install[("NetworkPolicy", NAME)]
    assert policy["apiVersion"] == "networking.k8s.io/v1"
    assert policy["metadata"]["namespace"] == deployment["metadata"]["namespace"]


def test_it_selects_exactly_the_hook_servers_pods(
    policy: dict[str, Any], deployment: dict[str, Any], install: Install
) -> None:
    template_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selects(policy["podSelector"], template_labels)
    # The same pods as the Deployment and the Service select, no fewer and no others.
    assert policy["podSelector"] == deployment["spec"]["selector"]
    assert policy["podSelector"]["matchLabels"] == install[("Service", NAME)]["spec"]["selector"]


def test_it_restricts_both_directions(policy: dict[str, Any]) -> None:
    assert sorted(policy["policyTypes"]) == ["Egress", "Ingress"]


def test_only_metacontroller_pods_in_their_namespace_may_call_the_hook_port(
    policy: dict[str, Any], deployment: dict[str, Any], install: Install
) -> None:
    (rule,) = policy["ingress"]
    # One peer holding both selectors: a pod must match both (two peers would admit either).
    (peer,) = rule["from"]
    assert set(peer) == {"namespaceSelector", "podSelector"}
    namespace_labels = {"kubernetes.io/metadata.name": METACONTROLLER_NAMESPACE}
    assert selects(peer["namespaceSelector"], namespace_labels)
    assert not selects(peer["namespaceSelector"], {"kubernetes.io/metadata.name": "default"})
    assert selects(peer["podSelector"], METACONTROLLER_POD_LABELS)
    assert not selects(peer["podSelector"], {"app.kubernetes.io/name": "something-else"})
    # The port is the container port the Service forwards to.
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    (service_port,) = install[("Service", NAME)]["spec"]["ports"]
    (target,) = [p for p in container["ports"] if p["name"] == service_port["targetPort"]]
    assert ports(rule) == {(target["protocol"], target["containerPort"])}


def test_the_hooks_may_reach_dns_and_web_ports_only(policy: dict[str, Any]) -> None:
    dns, web = policy["egress"]
    (resolver,) = dns["to"]
    assert selects(resolver["namespaceSelector"], {"kubernetes.io/metadata.name": "kube-system"})
    assert selects(resolver["podSelector"], {"k8s-app": "kube-dns"})
    assert ports(dns) == {("UDP", 53), ("TCP", 53)}
    # Registries live outside the cluster at addresses nobody lists in advance: any destination,
    # on the HTTPS and HTTP ports only.
    assert "to" not in web
    assert ports(web) == {("TCP", 443), ("TCP", 80)}
