"""oboptim: black-box online optimisation with diffusion-model priors and the DAS SMC sampler."""

__version__ = "0.1.0"

__all__ = ["Campaign", "Task", "DiffusionPrior", "SMCSampler", "__version__"]


def __getattr__(name: str):
    # Lazy: `import oboptim` stays cheap (the CLI's error paths and `--help` do not pay for torch/botorch imports).
    if name == "Campaign":
        from oboptim.campaign import Campaign

        return Campaign
    if name == "Task":
        from oboptim.task import Task

        return Task
    if name in ("DiffusionPrior", "SMCSampler"):
        from oboptim import sampling

        return getattr(sampling, name)
    raise AttributeError(f"module 'oboptim' has no attribute {name!r}")
