"""Defaulting of built-in kinds, as the real API server's ``SetDefaults_*`` functions do it.

The real server defaults every object while decoding a request body (and again
after a server-side apply has merged its configuration), so live objects carry
values nobody wrote: a Deployment's ``replicas: 1`` and ``strategy``, a
container's ``imagePullPolicy``, a Service's ``type: ClusterIP``. Which manager
owns them follows from when that happens: a create/update/patch writer owns the
defaults its decoded body received (they are in the object the field manager
compares), an applier does not (the applied configuration is typed before
defaulting). ``apply_defaults`` mutates the object in place and is idempotent.

``allocate`` is the other server-filled part, done by the REST storage after
the field manager (so owned by nobody): a Service's cluster IP and IP family
fields, a Job's generated selector and pod labels.

Sources: k8s.io/kubernetes pkg/apis/{core,apps,batch}/v1/defaults.go (v1.32),
pkg/registry/batch/job/strategy.go (generateSelector), the Service REST
allocator. Not modelled: admission (ServiceAccount, Priority, tolerations),
node ports, dual-stack families, hostNetwork ports, resource requests from limits.
"""

from __future__ import annotations

import ipaddress
import itertools
import threading

__all__ = ["apply_defaults", "allocate"]

_TERMINATION_MESSAGE_PATH = "/dev/termination-log"
_VOLUME_MODE = 420  # 0644, the default of secret/configMap/downwardAPI/projected volumes


def _dict(parent: dict, key: str) -> dict | None:
    value = parent.get(key)
    return value if isinstance(value, dict) else None


def _dicts(value) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _image_tag(image: str) -> str:
    """The tag ``parsers.ParseImageName`` finds: ``latest`` when the reference has neither tag nor digest."""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.rpartition(":")[2] if ":" in last else ""
    if not tag and not digest:
        return "latest"
    return tag


def _probe(probe) -> None:
    if not isinstance(probe, dict):
        return
    probe.setdefault("timeoutSeconds", 1)
    probe.setdefault("periodSeconds", 10)
    probe.setdefault("successThreshold", 1)
    probe.setdefault("failureThreshold", 3)
    http = _dict(probe, "httpGet")
    if http is not None:
        if not http.get("path"):
            http["path"] = "/"
        if not http.get("scheme"):
            http["scheme"] = "HTTP"


def _container(container: dict) -> None:
    if not container.get("imagePullPolicy"):
        image = container.get("image") if isinstance(container.get("image"), str) else ""
        container["imagePullPolicy"] = "Always" if _image_tag(image) == "latest" else "IfNotPresent"
    if not container.get("terminationMessagePath"):
        container["terminationMessagePath"] = _TERMINATION_MESSAGE_PATH
    if not container.get("terminationMessagePolicy"):
        container["terminationMessagePolicy"] = "File"
    for port in _dicts(container.get("ports")):
        if not port.get("protocol"):
            port["protocol"] = "TCP"
    for env in _dicts(container.get("env")):
        field_ref = _dict(env.get("valueFrom") or {}, "fieldRef") if isinstance(env.get("valueFrom"), dict) else None
        if field_ref is not None and not field_ref.get("apiVersion"):
            field_ref["apiVersion"] = "v1"
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        _probe(container.get(key))


_VOLUME_SOURCES = (
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
)


def _volume(volume: dict) -> None:
    if not any(key in volume for key in _VOLUME_SOURCES):
        volume["emptyDir"] = {}
    for key in ("secret", "configMap", "downwardAPI", "projected"):
        source = _dict(volume, key)
        if source is not None and source.get("defaultMode") is None:
            source["defaultMode"] = _VOLUME_MODE


def _pod_spec(spec: dict | None) -> None:
    if spec is None:
        return
    if not spec.get("dnsPolicy"):
        spec["dnsPolicy"] = "ClusterFirst"
    if not spec.get("restartPolicy"):
        spec["restartPolicy"] = "Always"
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = 30
    if not spec.get("schedulerName"):
        spec["schedulerName"] = "default-scheduler"
    for key in ("initContainers", "containers"):
        for container in _dicts(spec.get(key)):
            _container(container)
    for volume in _dicts(spec.get("volumes")):
        _volume(volume)


def _template_spec(spec: dict | None) -> None:
    template = _dict(spec, "template") if spec is not None else None
    if template is not None:
        _pod_spec(_dict(template, "spec"))


def _deployment(obj: dict) -> None:
    spec = _dict(obj, "spec")
    if spec is None:
        return
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    strategy = spec.get("strategy")
    if not isinstance(strategy, dict):
        strategy = spec["strategy"] = {}
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.get("rollingUpdate")
        if not isinstance(rolling, dict):
            rolling = strategy["rollingUpdate"] = {}
        if rolling.get("maxUnavailable") is None:
            rolling["maxUnavailable"] = "25%"
        if rolling.get("maxSurge") is None:
            rolling["maxSurge"] = "25%"
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    if spec.get("progressDeadlineSeconds") is None:
        spec["progressDeadlineSeconds"] = 600
    _template_spec(spec)


def _job(obj: dict) -> None:
    spec = _dict(obj, "spec")
    if spec is None:
        return
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    if spec.get("parallelism") is None:
        spec["parallelism"] = 1
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = 2147483647 if spec.get("backoffLimitPerIndex") is not None else 6
    template_labels = ((_dict(spec, "template") or {}).get("metadata") or {}).get("labels")
    meta = obj.get("metadata")
    if isinstance(template_labels, dict) and template_labels and isinstance(meta, dict) and not meta.get("labels"):
        meta["labels"] = dict(template_labels)
    if not spec.get("completionMode"):
        spec["completionMode"] = "NonIndexed"
    if spec.get("suspend") is None:
        spec["suspend"] = False
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = "Failed" if spec.get("podFailurePolicy") is not None else "TerminatingOrFailed"
    _template_spec(spec)


def _service(obj: dict) -> None:
    spec = _dict(obj, "spec")
    if spec is None:
        return
    if not spec.get("sessionAffinity"):
        spec["sessionAffinity"] = "None"
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        config = spec.get("sessionAffinityConfig")
        if not isinstance(config, dict):
            config = spec["sessionAffinityConfig"] = {}
        client_ip = config.get("clientIP")
        if not isinstance(client_ip, dict):
            client_ip = config["clientIP"] = {}
        client_ip.setdefault("timeoutSeconds", 10800)
    if not spec.get("type"):
        spec["type"] = "ClusterIP"
    for port in _dicts(spec.get("ports")):
        if not port.get("protocol"):
            port["protocol"] = "TCP"
        if port.get("targetPort") in (None, 0, "") and port.get("port") is not None:
            port["targetPort"] = port["port"]
    kind = spec["type"]
    if kind in ("NodePort", "LoadBalancer") and not spec.get("externalTrafficPolicy"):
        spec["externalTrafficPolicy"] = "Cluster"
    if kind in ("NodePort", "LoadBalancer", "ClusterIP") and spec.get("internalTrafficPolicy") is None:
        spec["internalTrafficPolicy"] = "Cluster"
    if kind == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        spec["allocateLoadBalancerNodePorts"] = True


def _pod(obj: dict) -> None:
    spec = _dict(obj, "spec")
    if spec is None:
        return
    if spec.get("enableServiceLinks") is None:
        spec["enableServiceLinks"] = True
    _pod_spec(spec)


def _secret(obj: dict) -> None:
    if not obj.get("type"):
        obj["type"] = "Opaque"


_DEFAULTERS = {
    ("apps", "Deployment"): _deployment,
    ("batch", "Job"): _job,
    ("", "Service"): _service,
    ("", "Pod"): _pod,
    ("", "Secret"): _secret,
}


def apply_defaults(group: str, kind: str, obj: dict) -> None:
    """Fill the defaults the real server sets for ``group``/``kind`` into ``obj`` (in place)."""
    defaulter = _DEFAULTERS.get((group, kind))
    if defaulter is not None and isinstance(obj, dict):
        defaulter(obj)


# --- values the REST storage allocates ------------------------------------------------------------

_SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")  # kubeadm's default service range
_ip_lock = threading.Lock()
_ip_counter = itertools.count(10)  # .1 is the kubernetes Service, a few reserved


def _next_cluster_ip() -> str:
    with _ip_lock:
        return str(_SERVICE_CIDR.network_address + next(_ip_counter) % (_SERVICE_CIDR.num_addresses - 2))


def allocate(group: str, kind: str, old: dict | None, obj: dict) -> None:
    """Server-allocated fields (owned by no manager): Service cluster IPs, a Job's selector."""
    spec = _dict(obj, "spec")
    if spec is None:
        return
    if (group, kind) == ("", "Service"):
        _service_ips(old, spec)
    elif (group, kind) == ("batch", "Job") and old is None and not spec.get("manualSelector"):
        _job_selector(obj, spec)


def _service_ips(old: dict | None, spec: dict) -> None:
    if spec.get("type") == "ExternalName":
        return
    old_spec = (old or {}).get("spec") if isinstance((old or {}).get("spec"), dict) else {}
    for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
        if not spec.get(key) and old_spec.get(key):  # an update may leave allocated values out
            spec[key] = old_spec[key]
    if not spec.get("clusterIP"):
        spec["clusterIP"] = _next_cluster_ip()
    if not spec.get("clusterIPs"):
        spec["clusterIPs"] = [spec["clusterIP"]]
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")


def _job_selector(obj: dict, spec: dict) -> None:
    uid = obj["metadata"].get("uid", "")
    name = obj["metadata"].get("name", "")
    template = spec.get("template")
    if not isinstance(template, dict):
        return
    tmeta = template.get("metadata")
    if not isinstance(tmeta, dict):
        tmeta = template["metadata"] = {}
    labels = tmeta.get("labels")
    if not isinstance(labels, dict):
        labels = tmeta["labels"] = {}
    labels.update(
        {
            "batch.kubernetes.io/controller-uid": uid,
            "batch.kubernetes.io/job-name": name,
            "controller-uid": uid,
            "job-name": name,
        }
    )
    if spec.get("selector") is None:
        spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    spec["manualSelector"] = False
