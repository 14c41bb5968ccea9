"""The static report: well-formed inline SVG, everything escaped, what changed since before."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from calibration import CalibrationVersion, changes, render_report


def test_every_figure_is_well_formed_svg(fitted: CalibrationVersion):
    html = render_report(fitted, None, recent=[])
    svgs = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    # a reliability diagram per type, a threshold curve per fitted type, a histogram per type
    fitted_types = [r for r in fitted.types.values() if r.curve]
    assert len(svgs) == 2 * len(fitted.types) + len(fitted_types)
    for svg in svgs:
        ET.fromstring(svg)
    for name in fitted.types:
        assert f"<h3>{name}</h3>" in html
    assert "<script" not in html


def test_text_from_inputs_is_escaped(fitted: CalibrationVersion):
    hostile = fitted.model_copy(update={"labels_file": "<script>alert('x')</script>.csv"})
    html = render_report(hostile)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;.csv" in html


def test_changes_compare_with_the_profile_defaults_then_with_a_previous_version(
    fitted: CalibrationVersion,
):
    first = {c.entity_type: c for c in changes(fitted, None)}
    supplier = first["supplier"]
    assert (supplier.threshold_before, supplier.source_before) == (0.5, "profile default")
    assert supplier.threshold_after == fitted.types["supplier"].threshold
    assert supplier.source_after == fitted.version
    later = fitted.model_copy(update={"version": "next", "parent": fitted.version})
    again = {c.entity_type: c for c in changes(later, fitted)}
    assert again["supplier"].source_before == fitted.version
    assert again["supplier"].coverage_before == fitted.types["supplier"].coverage
    html = render_report(later, fitted)
    assert f"What changed since {fitted.version}" in html


def test_the_defaults_auto_resolution_is_the_rule_in_force_run_on_the_labels(
    fitted: CalibrationVersion,
):
    first = {c.entity_type: c for c in changes(fitted, None)}
    check = fitted.types["supplier"].in_force
    assert check is not None and check.auto > 0
    assert first["supplier"].coverage_before == check.auto / check.queries
    applied = fitted.types["supplier"].applied
    assert applied is not None
    assert first["supplier"].coverage_after == applied.auto / applied.queries
    html = render_report(fitted)
    section = html.split("What changed since the defaults", 1)[1].split("</table>", 1)[0]
    assert f"<td>{check.auto / check.queries:.1%}</td>" in section
    halted = [n for n, r in fitted.types.items() if r.status == "halted"]
    assert halted and all(first[n].halted_after for n in halted)


def test_the_report_says_when_the_rule_in_force_misses_and_what_was_outside(
    fitted: CalibrationVersion,
):
    html = render_report(fitted)
    missed = [n for n, r in fitted.types.items() if r.in_force and not r.in_force.meets]
    assert missed and "The rule in force does not meet the target for" in html
    banner = html.split("The rule in force does not meet the target for", 1)[1].split("</p>")[0]
    assert all(name in banner for name in missed)
    supplier = fitted.types["supplier"]
    assert supplier.outside and sum(supplier.outside.values()) == supplier.rows - supplier.decidable
    for rule, n in supplier.outside.items():
        assert f"{rule} {n}" in html
    clean = fitted.model_copy(
        update={"types": {"supplier": supplier.model_copy(update={"in_force": supplier.applied})}}
    )
    assert "does not meet the target" not in render_report(clean)
