"""oboptim: black-box online optimization with diffusion-model priors."""

__version__ = "0.1.0"
