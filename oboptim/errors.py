"""The exceptions a user can hit and fix. Each message is one line that says how."""


class OboptimError(Exception):
    """An error the user can fix; its message is one line that says how."""


class ConfigError(OboptimError):
    """A setting with a bad value, or a resumed campaign opened with different settings."""


class UnknownKindError(ConfigError, ValueError):
    """A name that is not a registered kind of an extension point (an unknown resampler, acquisition, task ...)."""


class SpaceExhausted(OboptimError):
    """A sequence campaign has nothing new to propose: every sequence its prior allows was scored or is pending."""


__all__ = ["ConfigError", "OboptimError", "SpaceExhausted", "UnknownKindError"]
