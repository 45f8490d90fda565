"""Our own errors (bad input, wrong settings) as Dagster failures: the UI shows their message,
what is wrong, where and what to do, as the step's failure with its kind as metadata, instead of
a stack trace through our code. Every asset and check function is wrapped here, once."""

from __future__ import annotations

import functools
import inspect
from typing import Callable, TypeVar

from dagster import Failure, MetadataValue

from crm_quality.errors import CrmQualityError

F = TypeVar("F", bound=Callable)


def clear_failures(compute: F) -> F:
    """``compute`` (a plain or generator asset function), raising our errors as a Failure."""

    def failure(error: CrmQualityError) -> Failure:
        return Failure(description=str(error), allow_retries=False,
                       metadata={"error": MetadataValue.text(type(error).__name__)})

    if inspect.isgeneratorfunction(compute):
        @functools.wraps(compute)
        def generate(*args, **kwargs):
            try:
                yield from compute(*args, **kwargs)
            except CrmQualityError as error:
                raise failure(error) from None
        return generate  # type: ignore[return-value]

    @functools.wraps(compute)
    def call(*args, **kwargs):
        try:
            return compute(*args, **kwargs)
        except CrmQualityError as error:
            raise failure(error) from None
    return call  # type: ignore[return-value]
