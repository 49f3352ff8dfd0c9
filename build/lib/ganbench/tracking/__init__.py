from ganbench.tracking.base import MemoryTracker, Tracker

__all__ = ["MemoryTracker", "Tracker"]
