"""Errors of the resolver.

ResolverError
├── ProfileError          a profile file is missing, malformed or names what does not exist
├── ExtractError          an ERP extract (CSV) cannot be read: encoding, format, missing key column
├── QueryError            a query names an unknown entity type or field, or is empty
├── ModelError            the workdir holds no trained model, or an incompatible one
└── QualityError          no quality run is stored, or a stored one is unreadable
"""

from __future__ import annotations


class ResolverError(Exception):
    """Base of every error the resolver raises on purpose."""


class ProfileError(ResolverError):
    """A profile is missing, malformed, or names a column or role that does not exist."""


class ExtractError(ResolverError):
    """An ERP extract cannot be loaded; the message names the file and the field."""


class QueryError(ResolverError):
    """A resolve query cannot be answered as asked (unknown entity type or field, empty)."""


class ModelError(ResolverError):
    """The workdir holds no usable trained model."""


class QualityError(ResolverError):
    """No quality run is stored (or the one asked for is missing or unreadable)."""
