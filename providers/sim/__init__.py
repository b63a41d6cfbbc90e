"""A simulated provider: an in-memory fleet for tests, demos and forecasts. Not a cloud; plainly a simulation."""
