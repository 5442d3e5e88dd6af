"""Image helpers: the bundled 8x8 digits as 16x16 images, a frozen digit classifier, a JPEG-size oracle, and
differentiable ink/edge statistics."""

from oboptim.images.classifier import DigitClassifier, classifier_log_prob_oracle, shipped_classifier
from oboptim.images.digits_data import IMAGE_SIZE, held_out_split, load_digit_images
from oboptim.images.jpeg import jpeg_compressibility, jpeg_kilobytes, to_uint8
from oboptim.images.statistics import image_statistics

__all__ = [
    "DigitClassifier",
    "classifier_log_prob_oracle",
    "shipped_classifier",
    "IMAGE_SIZE",
    "held_out_split",
    "load_digit_images",
    "jpeg_compressibility",
    "jpeg_kilobytes",
    "to_uint8",
    "image_statistics",
]
