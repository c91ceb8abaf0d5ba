"""The leak audit: scoring, cross-fitting, metrics, the verdict and its power, recorded outputs."""
