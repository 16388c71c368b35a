"""Hydra's own way in for plugin YAML: the configs/ folders of the user's plugins (engine/plugins.py) join
Hydra's config search path, so their components appear beside the built-in ones in composition and --help."""

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin


class MetaprogramPluginConfigs(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        from engine.plugins import config_dirs, load_plugins

        load_plugins()  # once per process: entry points and METAPROGRAM_PLUGINS
        for folder in config_dirs():
            search_path.append(provider="metaprogram-plugin", path=f"file://{folder}")
