"""The Dockerfile builds the image the Deployment expects (no Docker engine needed to check it)."""

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass(frozen=True, slots=True)
class Instruction:
    """One Dockerfile instruction, continuation lines joined."""

    keyword: str
    arguments: str

    def exec_form(self) -> list[str]:
        """The JSON array of an exec-form instruction (ENTRYPOINT [...], CMD [...])."""
        form: list[str] = json.loads(self.arguments)
        return form


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions in order; comments and blank lines dropped, `\\` continuations joined."""
    instructions = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        instructions.append(Instruction(keyword.upper(), " ".join(arguments.split())))
        pending = ""
    return instructions


@pytest.fixture(scope="module")
def dockerfile(project: Path) -> list[Instruction]:
    return parse_dockerfile((project / "Dockerfile").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def pod(install: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    """The pod spec of the hook server's Deployment."""
    pod_spec: dict[str, Any] = install[("Deployment", "aim-model-source-hooks")]["spec"][
        "template"
    ]["spec"]
    return pod_spec


def only(dockerfile: list[Instruction], keyword: str) -> Instruction:
    (instruction,) = [i for i in dockerfile if i.keyword == keyword]
    return instruction


def test_image_builds_on_slim_python_3_11(dockerfile: list[Instruction]) -> None:
    assert dockerfile[0].keyword == "FROM"
    assert re.fullmatch(r"python:3\.11-slim(@sha256:[0-9a-f]{64})?", dockerfile[0].arguments)
    assert len([i for i in dockerfile if i.keyword == "FROM"]) == 1


def test_pinned_requirements_are_installed_without_a_cache(
    project: Path, dockerfile: list[Instruction]
) -> None:
    keywords = [(i.keyword, i.arguments) for i in dockerfile]
    copy_requirements = keywords.index(("COPY", "requirements.txt ."))
    installs = [
        index
        for index, (keyword, arguments) in enumerate(keywords)
        if keyword == "RUN" and "pip install" in arguments
    ]
    assert len(installs) == 1
    (install,) = installs
    assert copy_requirements < install
    words = shlex.split(keywords[install][1])
    assert "--no-cache-dir" in words
    assert words[words.index("-r") + 1] == "requirements.txt"
    assert (project / "requirements.txt").is_file()


def test_hooks_package_is_copied_and_bytecode_and_buffering_are_off(
    dockerfile: list[Instruction],
) -> None:
    assert ("COPY", "hooks/ ./hooks/") in [(i.keyword, i.arguments) for i in dockerfile]
    env = dict(word.split("=", 1) for word in shlex.split(only(dockerfile, "ENV").arguments))
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PYTHONUNBUFFERED"] == "1"


def test_image_runs_as_the_numeric_non_root_user_of_the_deployment(
    dockerfile: list[Instruction], pod: dict[str, Any]
) -> None:
    uid, _, gid = only(dockerfile, "USER").arguments.partition(":")
    # Numeric, or the kubelet cannot verify runAsNonRoot.
    assert uid.isdigit() and int(uid) != 0
    assert int(uid) == pod["securityContext"]["runAsUser"]
    assert not gid or int(gid) == pod["securityContext"]["runAsGroup"]
    # Every RUN comes before USER: installing needs root, running must not have it.
    keywords = [i.keyword for i in dockerfile]
    assert keywords.index("USER") > max(i for i, keyword in enumerate(keywords) if keyword == "RUN")


def test_entrypoint_serves_the_app_factory_with_gunicorn_on_the_exposed_port(
    dockerfile: list[Instruction], pod: dict[str, Any]
) -> None:
    entrypoint = only(dockerfile, "ENTRYPOINT").exec_form()
    assert entrypoint[0] == "gunicorn"
    assert entrypoint[entrypoint.index("--config") + 1] == "python:hooks.gunicorn_config"
    assert entrypoint[-1] == "hooks.app:create_app()"
    host, _, port = entrypoint[entrypoint.index("--bind") + 1].rpartition(":")
    assert host == "0.0.0.0"
    assert only(dockerfile, "EXPOSE").arguments == port
    ((container_port,),) = [container["ports"] for container in pod["containers"]]
    assert container_port["containerPort"] == int(port)
    assert "CMD" not in [i.keyword for i in dockerfile]


def test_healthcheck_asks_the_health_endpoint_with_python_alone(
    dockerfile: list[Instruction],
) -> None:
    healthcheck = only(dockerfile, "HEALTHCHECK").arguments
    options, _, command = healthcheck.partition("CMD ")
    assert "--timeout=" in options
    python, flag, code = json.loads(command)
    assert (python, flag) == ("python", "-c")
    assert "urllib.request" in code
    assert "http://127.0.0.1:8080/healthz" in code


def test_build_context_holds_what_the_dockerfile_copies(
    project: Path, dockerfile: list[Instruction]
) -> None:
    """`.dockerignore` excludes everything, then lets back in exactly what COPY needs."""
    rules = [
        line.strip()
        for line in (project / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "*"
    sources = {shlex.split(i.arguments)[0] for i in dockerfile if i.keyword == "COPY"}
    assert {rule.removeprefix("!") for rule in rules if rule.startswith("!")} == sources
