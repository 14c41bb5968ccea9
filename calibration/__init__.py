"""Canon's calibration: labelled outcomes → per-entity-type calibrated probability and a
threshold proven against a target wrong-match rate; versions, reports and drift.

The resolver reads the active version from `<workdir>/calibration/active.json`; everything here
writes it (see `calibration.versions`). scikit-learn and scipy are imported only when fitting.
"""

from calibration.calibrate import DEFAULT_TARGET, calibrate, calibrate_type
from calibration.dataset import Observation, TrainingSet, build_training_set
from calibration.drift import (
    DriftRow,
    bin_counts,
    drift,
    psi,
    read_resolutions,
    score_histogram,
)
from calibration.errors import CalibrationError, LabelError, ResolutionsError, VersionError
from calibration.fitting import Fit, fit_calibrator
from calibration.labels import (
    LABEL_COLUMNS,
    Label,
    approval_labels,
    labels_from_records,
    query_key,
    read_labels,
    write_labels,
)
from calibration.metrics import (
    ThresholdPoint,
    brier,
    choose_threshold,
    ece,
    labels_needed,
    reliability_curve,
    threshold_curve,
    wrong_rate_upper,
)
from calibration.record import DEFAULT_VERSION, CalibrationVersion, RuleCheck, TypeReport
from calibration.report import (
    SUMMARY_HEADER,
    changes,
    outside_text,
    render_report,
    summary_rows,
    write_report,
)
from calibration.rules import check_rules, halt_entry, is_halt
from calibration.simulate import simulated_labels, write_simulated_labels
from calibration.svg import histogram_svg, reliability_svg, threshold_svg
from calibration.versions import (
    activate,
    active_version,
    history,
    list_versions,
    load_version,
    rollback,
    save_version,
)

__all__ = [
    "DEFAULT_TARGET",
    "DEFAULT_VERSION",
    "LABEL_COLUMNS",
    "SUMMARY_HEADER",
    "CalibrationError",
    "CalibrationVersion",
    "DriftRow",
    "Fit",
    "Label",
    "LabelError",
    "Observation",
    "ResolutionsError",
    "RuleCheck",
    "ThresholdPoint",
    "TrainingSet",
    "TypeReport",
    "VersionError",
    "activate",
    "active_version",
    "approval_labels",
    "bin_counts",
    "brier",
    "build_training_set",
    "calibrate",
    "calibrate_type",
    "changes",
    "check_rules",
    "choose_threshold",
    "drift",
    "ece",
    "fit_calibrator",
    "halt_entry",
    "histogram_svg",
    "history",
    "is_halt",
    "labels_from_records",
    "labels_needed",
    "list_versions",
    "outside_text",
    "load_version",
    "psi",
    "query_key",
    "read_labels",
    "read_resolutions",
    "reliability_curve",
    "reliability_svg",
    "render_report",
    "rollback",
    "save_version",
    "score_histogram",
    "simulated_labels",
    "summary_rows",
    "threshold_curve",
    "threshold_svg",
    "write_labels",
    "write_report",
    "write_simulated_labels",
    "wrong_rate_upper",
]
