"""The server's OpenAPI document is valid OpenAPI 3.1 (openapi-spec-validator as the oracle).

That every route the server registers is in the document, with its method, is checked by the
Swift test OperationsTests.theOpenAPIDocumentDescribesEveryRoute.
"""

from pathlib import Path

import yaml
from openapi_spec_validator import validate

DOCUMENT = Path(__file__).resolve().parents[2] / "Sources" / "SearchServer" / "openapi.yaml"


def load():
    return yaml.safe_load(DOCUMENT.read_text())


def test_the_document_is_valid_openapi_3_1():
    document = load()
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_operation_has_an_id_and_documented_errors_use_the_error_schema():
    document = load()
    ids = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            ids.append(operation["operationId"])
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    assert response == {"$ref": "#/components/responses/Error"}, f"{method} {path} {status}"
    assert len(ids) == len(set(ids)), "operationIds must be unique"
