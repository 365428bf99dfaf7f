"""Build the kustomizations under deploy/k8s and validate every object against Kubernetes' schemas.

    python deploy/k8s/validate.py prepare    fetch the tools into the cache (idempotent)
    python deploy/k8s/validate.py check      kustomize-build base, overlays/dev, overlays/prod, infra;
                                             kubeconform -strict every object (exit 1 on any error)
    python deploy/k8s/validate.py check FILE...   validate plain manifest files instead

Nothing is downloaded at check time. ``prepare`` installs, into ``$CENTINELA_CACHE`` (default
``${XDG_CACHE_HOME:-~/.cache}/centinela``):

* kubeconform (a Go module, pinned) built with ``go install``;
* the Kubernetes JSON schemas shipped inside the ``kubernetes-validate`` wheel (PyPI, pinned),
  turned into self-contained schemas (kubeconform cannot follow the wheel's ``/api/...`` refs):
  kubeconform's own schema download from GitHub does not work offline or in CI.

kustomize is ``kubectl kustomize`` (Debian's kubectl) or a ``kustomize`` binary on PATH. The
operators' custom resources (Strimzi, MongoDB community) have no schema here: kubeconform skips
those kinds and tests/unit/deploy/test_k8s_manifests.py checks their shape instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
KUSTOMIZATIONS = ("base", "overlays/dev", "overlays/prod", "infra")
KUBECONFORM_MODULE = "github.com/yannh/kubeconform/cmd/kubeconform@v0.8.0"
KUBERNETES_VALIDATE = "kubernetes-validate==1.37.0"
KUBERNETES_VERSION = "1.32.0"
SCHEMA_SET = f"v{KUBERNETES_VERSION}-local-strict"
# kinds whose schema lives with their operator, not in Kubernetes' OpenAPI document
OPERATOR_KINDS = ("Kafka", "KafkaNodePool", "KafkaTopic", "MongoDBCommunity")


def cache_dir() -> Path:
    base = os.environ.get("CENTINELA_CACHE") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "centinela"
    )
    return Path(base)


def kubeconform_bin() -> Path | None:
    explicit = os.environ.get("CENTINELA_KUBECONFORM")
    for candidate in (explicit, str(cache_dir() / "bin" / "kubeconform"), shutil.which("kubeconform")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


def raw_schema_dir() -> Path:
    return cache_dir() / "k8s-schemas" / SCHEMA_SET


def standalone_dir() -> Path:
    return cache_dir() / "k8s-schemas" / f"{SCHEMA_SET}-standalone"


def kustomize_cmd() -> list[str] | None:
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    return None


def missing_tools() -> list[str]:
    """What ``check`` lacks (empty: ready)."""
    out = []
    if kubeconform_bin() is None:
        out.append("kubeconform (python deploy/k8s/validate.py prepare)")
    if not (raw_schema_dir() / "_definitions.json").is_file():
        out.append(f"schemas {raw_schema_dir()} (python deploy/k8s/validate.py prepare)")
    if kustomize_cmd() is None:
        out.append("kubectl or kustomize (Debian: apt-get install kubectl)")
    return out


def prepare() -> int:
    bin_dir = cache_dir() / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    if kubeconform_bin() is None:
        if not shutil.which("go"):
            print("validate: go is needed to build kubeconform", file=sys.stderr)
            return 1
        env = {**os.environ, "GOBIN": str(bin_dir), "GOPATH": str(cache_dir() / "go")}
        subprocess.run(["go", "install", KUBECONFORM_MODULE], check=True, env=env)
    if not (raw_schema_dir() / "_definitions.json").is_file():
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, KUBERNETES_VALIDATE],
                check=True,
            )
            wheel = next(Path(tmp).glob("kubernetes_validate-*.whl"))
            prefix = f"kubernetes_validate/kubernetes-json-schema/{SCHEMA_SET}/"
            target = raw_schema_dir()
            target.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(wheel) as zf:
                for name in zf.namelist():
                    if name.startswith(prefix) and name.endswith(".json"):
                        (target / name[len(prefix) :]).write_bytes(zf.read(name))
    print(f"validate: kubeconform {kubeconform_bin()}, schemas {raw_schema_dir()}")
    return 0


def _refs(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and "#/$defs/" in ref:
            out.add(ref.split("#/$defs/", 1)[1])
        for value in node.values():
            _refs(value, out)
    elif isinstance(node, list):
        for value in node:
            _refs(value, out)


def _standalone(file_name: str, definitions: dict[str, Any]) -> bool:
    """Write a self-contained copy of ``file_name`` (its definitions embedded); False when unknown."""
    source = raw_schema_dir() / file_name
    target = standalone_dir() / file_name
    if target.is_file():
        return True
    if not source.is_file():
        return False
    text = source.read_text(encoding="utf-8").replace("/api/_definitions.json#", "#")
    schema = json.loads(text)
    needed: set[str] = set()
    _refs(schema, needed)
    seen: set[str] = set()
    while needed - seen:
        name = sorted(needed - seen)[0]
        seen.add(name)
        _refs(definitions.get(name, {}), needed)
    schema["$defs"] = {n: definitions[n] for n in sorted(seen) if n in definitions}
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(schema), encoding="utf-8")
    tmp.replace(target)
    return True


def schema_file(api_version: str, kind: str) -> str:
    """kubeconform's file name: ``{kind}-{group's first label}-{version}.json`` (core: ``{kind}-{version}``)."""
    group, _, version = api_version.rpartition("/")
    suffix = f"-{group.split('.')[0]}-{version}" if group else f"-{version}"
    return f"{kind.lower()}{suffix}.json"


def ensure_schemas(documents: list[dict[str, Any]]) -> None:
    wanted = {
        schema_file(str(d.get("apiVersion", "")), str(d.get("kind", "")))
        for d in documents
        if d.get("kind") not in OPERATOR_KINDS
    }
    missing = [f for f in wanted if not (standalone_dir() / f).is_file()]
    if not missing:
        return
    text = (raw_schema_dir() / "_definitions.json").read_text(encoding="utf-8").replace("/api/_definitions.json#", "#")
    definitions = json.loads(text)["$defs"]
    for name in missing:
        _standalone(name, definitions)  # an unknown kind is reported by kubeconform itself


def build(kustomization: Path) -> str:
    cmd = kustomize_cmd()
    assert cmd is not None
    result = subprocess.run([*cmd, str(kustomization)], capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"kustomize build {kustomization} failed: {result.stderr.strip()}")
    return result.stdout


def kubeconform(manifests: str, label: str) -> tuple[bool, str]:
    """Validate a multi-document YAML string; (ok, kubeconform's output)."""
    documents = [d for d in yaml.safe_load_all(manifests) if isinstance(d, dict)]
    ensure_schemas(documents)
    binary = kubeconform_bin()
    assert binary is not None
    location = str(standalone_dir() / "{{.ResourceKind}}{{.KindSuffix}}.json")
    result = subprocess.run(
        [
            str(binary),
            "-strict",
            "-summary",
            "-output",
            "text",
            "-kubernetes-version",
            KUBERNETES_VERSION,
            "-schema-location",
            location,
            "-skip",
            ",".join(OPERATOR_KINDS),
            "-",
        ],
        input=manifests,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = (result.stdout + result.stderr).replace("stdin", label)
    return result.returncode == 0, output


def check(files: list[str]) -> int:
    missing = missing_tools()
    if missing:
        print("validate: missing " + "; ".join(missing), file=sys.stderr)
        return 2
    ok = True
    targets = (
        [(f, Path(f).read_text(encoding="utf-8")) for f in files]
        if files
        else [(k, build(HERE / k)) for k in KUSTOMIZATIONS]
    )
    for label, manifests in targets:
        good, output = kubeconform(manifests, label)
        print(f"{label}: {output.strip()}")
        ok = ok and good
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in ("prepare", "check"):
        print(__doc__)
        return 2
    return prepare() if args[0] == "prepare" else check(args[1:])


if __name__ == "__main__":
    sys.exit(main())
