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
