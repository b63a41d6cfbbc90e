"""fleet: upgrade whole fleets of Kubernetes clusters across clouds, on schedule, one safe step at a time."""

__version__ = "0.1.0"
