"""Generated requests against the live server: every answer is not a 500 and is what the OpenAPI document says.

Schemathesis (its command line, as a client would run it) reads /api/openapi.json and sends every operation a
bounded, deterministic set of requests — boundary values, valid ones and ones that break the schema, then short
sequences that reuse what earlier answers returned — with a manager's token that has every scope.
"""

import subprocess
import sys
from pathlib import Path

import pytest
from django.test.testcases import QuietWSGIRequestHandler

from fidelis.accounts.services import api_token_create
from fidelis.loyalty.services import member_enrol
from fidelis.loyalty.templates import starter_program
from tests.api.test_auth import ALL_SCOPES
from tests.factories import CustomerFactory

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance"
MAX_EXAMPLES = 10  # per operation and phase; the boundary values of the coverage phase come on top


def _config(customer, member) -> str:
    """Return a schemathesis.toml that names stored objects in the paths, so that operations get past the 404."""
    known = [(r"^/api/customers/\\{public_id\\}",
              {"public_id": customer.public_id, "channel": "sms", "tag_name": "VIP"}),
             (r"^/api/loyalty/members/\\{number\\}", {"number": member.number})]
    return "".join(f'[[operations]]\ninclude-path-regex = "{path}"\nparameters = {{ '
                   + ", ".join(f'"path.{name}" = "{value}"' for name, value in values.items()) + " }\n\n"
                   for path, values in known)


@pytest.mark.django_db(transaction=True)
def test_api_answers_every_generated_request_as_documented(live_server, manager, tmp_path, monkeypatch):
    # given a live server with the starter loyalty program, a member, and a manager's token with every scope
    program = starter_program(actor=manager, name="星河会员俱乐部")
    customer = CustomerFactory(name="李静", phone="+8613800138000")
    member, _created = member_enrol(actor=manager, program=program, customer=customer, channel="store")
    (tmp_path / "schemathesis.toml").write_text(_config(customer, member))
    _token, raw = api_token_create(actor=manager, user=manager, name="schemathesis", scopes=ALL_SCOPES)
    # The test server writes a response's head and body apart: without TCP_NODELAY each kept-alive request waits
    # for the client's delayed ACK (about 40 ms), which would triple the run.
    monkeypatch.setattr(QuietWSGIRequestHandler, "disable_nagle_algorithm", True)
    # when schemathesis runs every operation of the OpenAPI document
    run = subprocess.run(
        [str(SCHEMATHESIS), "--config-file", str(tmp_path / "schemathesis.toml"), "run",
         f"{live_server.url}/api/openapi.json", "--header", f"Authorization: Bearer {raw}", "--checks", CHECKS, "--max-examples", str(MAX_EXAMPLES), "--generation-deterministic", "--workers", "1",
         "--output-truncate", "false"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)
    # then no answer is a server error or breaks the document
    (tmp_path / "schemathesis.txt").write_text(run.stdout + run.stderr)
    assert run.returncode == 0, run.stdout[-30000:] + run.stderr[-5000:]
