"""Validation of names and small values, following CKAN's rules where CKAN has them."""

from __future__ import annotations

import re
from datetime import date

from citydata.errors import ValidationError

NAME_RE = re.compile(r"^[a-z0-9_-]{2,100}$")
TAG_RE = re.compile(r"^[\w \-.]{1,100}$", re.UNICODE)
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
GSS_RE = re.compile(r"^[EWSN]\d{8}$")
USER_RE = re.compile(r"^[a-z0-9_.-]{2,100}$")


class Errors:
    """Collects field errors so one response lists every problem at once."""

    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.fields.setdefault(field, []).append(message)

    def raise_if_any(self, summary: str = "The data you sent is not valid") -> None:
        if self.fields:
            detail = "; ".join(f"{k}: {', '.join(v)}" for k, v in self.fields.items())
            raise ValidationError(f"{summary}: {detail}", fields=self.fields)


def check_name(errors: Errors, field: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        errors.add(field, "Missing value")
        return ""
    if not NAME_RE.match(value):
        errors.add(
            field,
            "Must be 2 to 100 characters, lowercase letters, digits, - and _ only",
        )
    return value


def check_user_name(errors: Errors, field: str, value: object) -> str:
    if not isinstance(value, str) or not USER_RE.match(value):
        errors.add(field, "Must be 2 to 100 characters: lowercase letters, digits, . - and _")
        return ""
    return value


def check_text(errors: Errors, field: str, value: object, max_len: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.add(field, "Must be a string")
        return ""
    if len(value) > max_len:
        errors.add(field, f"Must be at most {max_len} characters")
    return value


def check_email(errors: Errors, field: str, value: object) -> str:
    text = check_text(errors, field, value, 254)
    if text and not EMAIL_RE.match(text):
        errors.add(field, "Must be an email address like name@example.org")
    return text


def check_url(errors: Errors, field: str, value: object) -> str:
    text = check_text(errors, field, value, 2000)
    if text and not re.match(r"^https?://[^\s]+$", text):
        errors.add(field, "Must be an http:// or https:// URL")
    return text


def check_date(errors: Errors, field: str, value: object) -> str:
    text = check_text(errors, field, value, 10)
    if text:
        try:
            date.fromisoformat(text)
        except ValueError:
            errors.add(field, "Must be a date in the form YYYY-MM-DD")
    return text


def check_tag(errors: Errors, field: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        errors.add(field, "Tag names must be non-empty strings")
        return ""
    value = value.strip()
    if not TAG_RE.match(value):
        errors.add(
            field,
            f'Tag "{value[:40]}" must be alphanumeric characters or symbols: -_. (max 100)',
        )
    return value


def check_gss(errors: Errors, field: str, value: object) -> str:
    if not isinstance(value, str) or not GSS_RE.match(value):
        errors.add(field, f"{value!r} is not a GSS code like E09000007")
        return ""
    return value
