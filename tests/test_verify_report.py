"""The scorecard's text and JSON forms, exactly (no engine needed)."""

from __future__ import annotations

import json

from generator.core.controls import controls
from generator.engine.probes import PROBES
from generator.engine.verify import Row, Scorecard, render_text


def card(*passed: bool) -> Scorecard:
    rows = [Row(f"c{i}", "5.4", f"title {i}", ok, f"evidence {i}", "how") for i, ok in enumerate(passed)]
    return Scorecard("svc", "svc:0.1.0", "hcverify-svc-abc", rows, 12.5, 3.0, 14_400_000)


def test_text_scorecard_exact() -> None:
    assert render_text(card(True, False)) == (
        "svc (svc:0.1.0): build 12.5 s, healthy after 3.0 s, image 14.4 MB\n"
        "\n"
        "PASS  c0  CIS 5.4         evidence 0\n"
        "FAIL  c1  CIS 5.4         evidence 1\n"
        "\n"
        "1/2 controls proven — verification FAILED\n"
    )


def test_json_scorecard_says_pass_only_when_every_row_passes() -> None:
    assert json.loads(card(True, True).to_json())["passed"] is True
    assert json.loads(card(True, False).to_json())["passed"] is False
    assert json.loads(card().to_json())["passed"] is False  # no rows proves nothing


def test_every_control_with_a_proof_has_a_probe_and_vice_versa() -> None:
    with_proof = {c["id"] for c in controls() if "proof" in c}
    assert with_proof == set(PROBES)
    for control in controls():
        if "proof" in control:
            assert control["expected"].strip() and control["cis"].strip()
