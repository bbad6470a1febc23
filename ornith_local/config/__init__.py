"""Configuration and on-disk locations: the bottom layer, imported by everything else."""

from ornith_local.config.coerce import ConfigError
from ornith_local.config.paths import AppDirs, app_dirs, bundled_dir
from ornith_local.config.settings import (
    Config,
    load_config,
    project_instructions,
    repo_layer,
    thaw_repo_config,
)

__all__ = ["AppDirs", "Config", "ConfigError", "app_dirs", "bundled_dir", "load_config", "project_instructions",
           "repo_layer", "thaw_repo_config"]
