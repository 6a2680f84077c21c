"""VolumeBinding (upstream's ``volumebinding`` package): ``volume_binding`` is
the plugin; ``matching`` finds a PersistentVolume for a claim, ``prebind``
writes the chosen bindings and waits for them, ``assume_cache`` holds what
the plugin assumed before the API shows it, ``args`` the arguments."""

from py_scheduler.plugins.volumebinding.volume_binding import NAME, SPEC

__all__ = ["NAME", "SPEC"]
