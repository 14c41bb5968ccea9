"""Errors of the calibration package.

CalibrationError
├── LabelError          a labels file cannot be used: unreadable, a bad row, an unknown entity
│                       type or canonical id, a single class only, too few rows
├── VersionError        a calibration version is unknown or corrupt, or there is nothing to roll
│                       back to
└── ResolutionsError    a file of recent resolutions (drift input) cannot be read
"""

from __future__ import annotations


class CalibrationError(Exception):
    """Base of every error the calibration package raises on purpose; the message is one line."""


class LabelError(CalibrationError):
    """The labels cannot be used; the message names the file, the row and the field."""


class VersionError(CalibrationError):
    """A calibration version is missing or unreadable, or a rollback has no previous version."""


class ResolutionsError(CalibrationError):
    """A JSON-lines file of resolutions (`canon resolve --output`) cannot be read."""
