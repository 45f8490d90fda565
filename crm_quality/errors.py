"""User-facing errors: each message names what is wrong, where, and what to do."""


class CrmQualityError(Exception):
    """An error caused by input or configuration, reported to the user in one clear message."""


class SettingsError(CrmQualityError):
    """A setting is unknown, ill-typed or out of range."""


class SourceError(CrmQualityError):
    """A source file or table cannot be extracted: missing, empty, unreadable or incomplete."""
