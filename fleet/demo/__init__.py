"""`fleet demo`: fleet's whole job on six emulated clouds in about a minute.

scenario (the fleet, as data) -> emulators (the clouds, in process) -> seed -> workspace (FleetConfig,
policies, token) -> service (the real daemon and its API) -> view (live) -> report / outcome; run ties them
together (the `fleet demo` command itself is fleet.cli.demo).
"""
