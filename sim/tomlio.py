"""Write scenarios as TOML (the standard library only reads it): tomli-w, minus the nulls.

TOML has no null: a value that is None (a channel without patience, say) is left out, which
is what `parse_scenario` reads as "not set".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import tomli_w


def _without_none(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_without_none(v) for v in value]
    return value


def dumps(data: Mapping[str, Any]) -> str:
    """Scalars and lists at the top, then arrays of tables (pools, channels)."""
    return tomli_w.dumps(_without_none(data))
