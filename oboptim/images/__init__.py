"""Image helpers: the bundled 8x8 digits as 16x16 images, a frozen digit classifier, a JPEG-size oracle,
differentiable ink/edge statistics, and candidates as pictures (shared by the rating page and reports).
"""

from typing import TYPE_CHECKING

from oboptim._lazy import attach, public_names

_EXPORTS = {
    "oboptim.images._classifier": [
        "ClassifierFileError", "DigitClassifier", "classifier_log_prob_oracle", "classifier_margin_oracle",
        "logit_margin", "shipped_classifier"
    ],
    "oboptim.images._digits_data": ["IMAGE_SIZE", "held_out_split", "load_digit_images"],
    "oboptim.images._jpeg": ["jpeg_compressibility", "jpeg_kilobytes", "to_uint8"],
    "oboptim.images._pictures": ["IMAGE", "NUMBERS", "POINT_2D", "candidate_kind", "image_png", "to_unit_range"],
    "oboptim.images._statistics": ["image_statistics"],
}

__all__ = public_names(_EXPORTS)
__getattr__, __dir__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from oboptim.images._classifier import (
        ClassifierFileError,
        DigitClassifier,
        classifier_log_prob_oracle,
        classifier_margin_oracle,
        logit_margin,
        shipped_classifier,
    )
    from oboptim.images._digits_data import IMAGE_SIZE, held_out_split, load_digit_images
    from oboptim.images._jpeg import jpeg_compressibility, jpeg_kilobytes, to_uint8
    from oboptim.images._pictures import IMAGE, NUMBERS, POINT_2D, candidate_kind, image_png, to_unit_range
    from oboptim.images._statistics import image_statistics
