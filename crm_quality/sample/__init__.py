"""The dirty-CRM sample generator and its ground truth."""

from crm_quality.sample.generator import DEFECTS, Shape, Summary, generate

__all__ = ["DEFECTS", "Shape", "Summary", "generate"]
