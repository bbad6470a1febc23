"""Where ornith keeps its files: platformdirs locations, overridable for tests and portable installs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "ornith"
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class AppDirs:
    config: Path
    cache: Path
    data: Path

    @property
    def config_file(self) -> Path:
        return self.config / "config.toml"

    @property
    def models(self) -> Path:
        """Downloaded and assembled GGUF files."""
        return self.data / "models"

    @property
    def warm_starts(self) -> Path:
        """Saved model states after a prompt's stable prefix (llm/warm.py): disposable, size-capped."""
        return self.cache / "warm"


def app_dirs() -> AppDirs:
    """The user's config / cache / data dirs; `ORNITH_{CONFIG,CACHE,DATA}_DIR` override each one."""
    return AppDirs(
        config=Path(os.environ.get("ORNITH_CONFIG_DIR") or platformdirs.user_config_dir(APP_NAME)),
        cache=Path(os.environ.get("ORNITH_CACHE_DIR") or platformdirs.user_cache_dir(APP_NAME)),
        data=Path(os.environ.get("ORNITH_DATA_DIR") or platformdirs.user_data_dir(APP_NAME)),
    )


def bundled_dir(name: str) -> Path:
    """A top-level data folder (`models`, `sandbox`) in an installed wheel or in an editable checkout.

    The wheel carries them as `ornith_local/_data/NAME`; a checkout has them beside the package.
    """
    installed = _PACKAGE_ROOT / "_data" / name
    if installed.is_dir():
        return installed
    return _PACKAGE_ROOT.parent / name
