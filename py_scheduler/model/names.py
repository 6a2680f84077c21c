"""Name and label validation as apimachinery and the core/v1 helpers do it,
with upstream's messages: qualified names, resource names, label keys and
values. Used by the configuration's plugin arguments and by the plugins that
re-validate what the API server let through (NodeAffinity, InterPodAffinity).

Each family keeps its caller's upstream wording: ``labels.NewRequirement``
(``label_key_problem``) words a bad key differently from
``validation.IsQualifiedName`` (``qualified_name_problems``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

NAME_PART: Final = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
DNS_SUBDOMAIN: Final = re.compile(
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
)
LABEL_VALUE: Final = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
INTEGER: Final = re.compile(r"[+-]?[0-9]+")
INT64: Final = range(-(2**63), 2**63)


# -- resource names (k8s.io/kubernetes/pkg/apis/core/v1/helper) -----------------------


def qualified_name_problem(value: str) -> str | None:
    """Why ``value`` is not a qualified name (``[prefix/]name``), or None."""
    parts = value.split("/")
    if len(parts) > 2:
        return "must be a qualified name with at most one '/'"
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            return "prefix part must be non-empty"
        if len(prefix) > 253 or not DNS_SUBDOMAIN.fullmatch(prefix):
            return "prefix part must be a lowercase DNS-1123 subdomain"
    name = parts[-1]
    if not name:
        return "name part must be non-empty"
    if len(name) > 63:
        return "name part must be no more than 63 characters"
    if not NAME_PART.fullmatch(name):
        return (
            "name part must consist of alphanumeric characters, '-', '_' or '.', "
            "and must start and end with an alphanumeric character"
        )
    return None


@lru_cache(maxsize=1024)
def is_extended_resource_name(name: str) -> bool:
    """A vendor resource such as ``example.com/gpu`` (not ``kubernetes.io/``)."""
    if "/" not in name or "kubernetes.io/" in name or name.startswith("requests."):
        return False
    return qualified_name_problem("requests." + name) is None


@lru_cache(maxsize=1024)
def is_scalar_resource_name(name: str) -> bool:
    """Resources counted as plain integers: extended, hugepages, attachable volumes."""
    return (
        is_extended_resource_name(name)
        or name.startswith(("hugepages-", "attachable-volumes-"))
        or "kubernetes.io/" in name
    )


# -- label requirements (labels.NewRequirement, the field selector parser) ------------

_NAME_RULE: Final = (
    "must consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)


def label_key_problem(key: str) -> str | None:
    parts = key.split("/")
    if len(parts) > 2:
        return f"a qualified name {_NAME_RULE}, with an optional DNS subdomain prefix and '/'"
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            return "prefix part must be non-empty"
        if len(prefix) > 253 or not DNS_SUBDOMAIN.fullmatch(prefix):
            return "prefix part must be a lowercase RFC 1123 subdomain"
    if not name:
        return "name part must be non-empty"
    if len(name) > 63:
        return "name part must be no more than 63 characters"
    if not NAME_PART.fullmatch(name):
        return f"name part {_NAME_RULE}"
    return None


def label_value_problem(value: str) -> str | None:
    if len(value) > 63:
        return "must be no more than 63 characters"
    if value and not NAME_PART.fullmatch(value):
        return f"a valid label must be an empty string or {_NAME_RULE}"
    return None


# -- label selectors as validation.IsQualifiedName and IsValidLabelValue word it ------

# The API server rejects these, but upstream re-parses every term and fails
# PreFilter (and PreScore) on a bad one; the messages follow apimachinery's.
_LABEL_VALUE_RULE: Final = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
_NAME_PART_RULE: Final = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
    "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
_DNS_SUBDOMAIN_RULE: Final = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
    "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*"
    "[a-z0-9])?)*')"
)


def qualified_name_problems(key: str) -> list[str]:
    parts = key.split("/")
    if len(parts) > 2:
        return [f"a qualified name {_NAME_PART_RULE} with an optional DNS subdomain prefix and '/'"]
    out = []
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            out.append("prefix part must be non-empty")
        elif len(prefix) > 253 or not DNS_SUBDOMAIN.fullmatch(prefix):
            out.append(f"prefix part {_DNS_SUBDOMAIN_RULE}")
    name = parts[-1]
    if not name:
        out.append("name part must be non-empty")
    elif len(name) > 63:
        out.append("name part must be no more than 63 characters")
    if name and not NAME_PART.fullmatch(name):
        out.append(f"name part {_NAME_PART_RULE}")
    return out


def label_value_problems(value: str) -> list[str]:
    out = []
    if len(value) > 63:
        out.append("must be no more than 63 characters")
    if not LABEL_VALUE.fullmatch(value):
        out.append(_LABEL_VALUE_RULE)
    return out
