"""Request bodies checked against Discord's OpenAPI 3.1 spec (JSON Schema 2020-12).

The spec ships with the emulator (`bot/emulator/discord_spec/openapi.json.gz`, MIT, with its licence and the commit
it came from in SOURCE.txt beside it), so it is there in any checkout and any install; it is read only by the
emulator. jsonschema/referencing are imported lazily (they are test dependencies, the console works without them).
Validators are compiled on first use per operation and cached for the process.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
from functools import cache
from pathlib import Path
from typing import Any

from bot.emulator.limits import Problem

log = logging.getLogger(__name__)

SPEC_DIR = Path(__file__).resolve().parent / "discord_spec"
DEFAULT_SPEC_PATH = SPEC_DIR / "openapi.json.gz"
SPEC_URI = "urn:discord-openapi"


class SpecMissingError(RuntimeError):
    """The OpenAPI spec is required (CI=true) but cannot be read."""


def spec_required() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def _pointer(*parts: str) -> str:
    return "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


def read_spec_bytes(path: Path) -> bytes:
    """The spec's JSON text: a `.gz` file (as shipped) is decompressed, any other is read as it is."""
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


@cache
def _registry(path: Path) -> Any:
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    spec = json.loads(read_spec_bytes(path))
    resource = Resource.from_contents(spec, default_specification=DRAFT202012)
    return spec, Registry().with_resource(SPEC_URI, resource)


@cache
def _validator(path: Path, spec_path: str, method: str) -> Any:
    from jsonschema import Draft202012Validator

    spec, registry = _registry(path)
    operation = spec["paths"][spec_path][method]
    if "application/json" not in operation.get("requestBody", {}).get("content", {}):
        return None
    ref = "#/" + _pointer("paths", spec_path, method, "requestBody", "content", "application/json", "schema")
    return Draft202012Validator({"$ref": SPEC_URI + ref}, registry=registry)


class SpecValidator:
    """Validates JSON request bodies per OpenAPI operation; `available` is False when the spec cannot be used."""

    def __init__(self, path: Path | None = DEFAULT_SPEC_PATH, *, required: bool | None = None) -> None:
        self.path = path
        required = spec_required() if required is None else required
        self.available = False
        self.reason = ""
        if path is None or not path.is_file():
            self.reason = f"Discord OpenAPI spec not found at {path}"
        else:
            try:
                import jsonschema  # noqa: F401
                import referencing  # noqa: F401
            except ImportError:
                self.reason = "jsonschema/referencing are not installed (pip install -e '.[test]')"
            else:
                self.available = True
        if not self.available:
            if required:
                raise SpecMissingError(f"{self.reason}; it is required when CI=true.")
            log.info("Request bodies are checked against Discord's documented limits only: %s", self.reason)

    def validate(self, spec_path: str, method: str, body: Any) -> list[Problem]:
        if not self.available or self.path is None:
            return []
        validator = _validator(self.path, spec_path, method.lower())
        if validator is None:
            return []
        problems = []
        for error in validator.iter_errors(body):
            specific = _deepest(error)
            path = tuple(specific.absolute_path)
            message = specific.message
            if len(message) > 200:  # the message quotes the offending value, which can be huge
                message = f"fails {specific.validator} {specific.validator_value!r}"[:200]
            problems.append(Problem(path, f"SCHEMA_{specific.validator}".upper(), message))
        return problems


def _deepest(error: Any) -> Any:
    """For an anyOf/oneOf failure, the error of the branch that came closest, deepest in the body:
    it names the real culprit (e.g. an embed title) rather than "matches none of the 7 callback shapes"."""
    if not error.context:
        return error
    branches: dict[Any, list[Any]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    # A branch failing on an enum/const (a discriminator such as the callback `type`) was not the one meant.
    closest = min(
        branches.values(),
        key=lambda errors: (
            any(e.validator in ("enum", "const") for e in errors),
            len(errors),
            -max(len(e.absolute_path) for e in errors),
        ),
    )
    return max((_deepest(sub) for sub in closest), key=lambda leaf: len(leaf.absolute_path))
