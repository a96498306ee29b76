"""parse(): the requirement grammar, table-driven, good and bad expressions."""

from __future__ import annotations

import pytest

from xpm_nb.errors import LauncherSpecError
from xpm_nb.launcherfinder import (
    AcceleratorSpecification,
    AcceleratorType,
    CPUSpecification,
    CudaSpecification,
    HostSimpleRequirement,
    MPSSpecification,
    RequirementUnion,
    parse,
)

GiB, MiB, GB = 1024**3, 1024**2, 1000**3
H = 3600


def simple(duration=0, memory=0, cores=0, accelerators=()):
    return HostSimpleRequirement(duration=duration, cpu=CPUSpecification(memory=memory, cores=cores),
                                 accelerators=list(accelerators))


# (expression, the HostSimpleRequirement alternatives it means)
GOOD = [
    ("duration=40h & cpu(mem=700GiB) & cuda(mem=32GiB) * 2",
     [simple(40 * H, 700 * GiB, accelerators=[CudaSpecification(memory=32 * GiB)] * 2)]),
    ("duration=4h & cuda(mem=8GiB) | duration=4h & mps(mem=8GiB)",
     [simple(4 * H, accelerators=[CudaSpecification(memory=8 * GiB)]),
      simple(4 * H, accelerators=[MPSSpecification(memory=8 * GiB)])]),
    ("duration=2h & gpu(mem=4GiB)", [simple(2 * H, accelerators=[AcceleratorSpecification(memory=4 * GiB)])]),
    ("duration=2 days", [simple(2 * 86400)]),
    ("duration=1d", [simple(86400)]),
    ("duration=30m", [simple(1800)]),
    ("duration=30mins", [simple(1800)]),
    ("duration=1.5hours", [simple(5400)]),
    ("duration=90s", [simple(90)]),
    ("cpu(cores=8)", [simple(cores=8)]),
    ("cpu(cores=8, mem=16G)", [simple(memory=16 * GB, cores=8)]),
    ("cpu(mem=512M)", [simple(memory=512 * 1000**2)]),
    ("cpu(mem=512MiB)", [simple(memory=512 * MiB)]),
    ("cpu(mem=1.5GiB)", [simple(memory=int(1.5 * GiB))]),
    ("cpu(mem=2TB)", [simple(memory=2 * 1000**4)]),
    ("cpu()", [simple()]),
    ("cuda()", [simple(accelerators=[CudaSpecification()])]),
    ("cuda(mem=8GiB)*3", [simple(accelerators=[CudaSpecification(memory=8 * GiB)] * 3)]),
    ("  CUDA ( MEM = 8 GiB ) * 1  ", [simple(accelerators=[CudaSpecification(memory=8 * GiB)])]),
    # & combines: longest duration, most memory and cores, all accelerators
    ("duration=1h & duration=3h & cpu(mem=1GiB) & cpu(cores=4, mem=2GiB) & cuda(mem=1GiB) & mps()",
     [simple(3 * H, 2 * GiB, 4, [CudaSpecification(memory=GiB), MPSSpecification()])]),
    ("cpu(cores=1) | cpu(cores=2) | cpu(cores=4)",
     [simple(cores=1), simple(cores=2), simple(cores=4)]),
]


@pytest.mark.parametrize(("expr", "expected"), GOOD, ids=[g[0] for g in GOOD])
def test_parse(expr, expected):
    """Each expression gives its alternatives, in order: always a RequirementUnion
    (even of one alternative), as in the reference."""
    req = parse(expr)
    assert req.requirements == expected
    assert isinstance(req, RequirementUnion)
    assert all(isinstance(r, HostSimpleRequirement) for r in req.requirements)


def test_single_alternative_is_a_union_that_still_matches():
    """parse() of one alternative: a one-element RequirementUnion; matching works."""
    from xpm_nb.launcherfinder import HostSpecification

    req = parse("duration=1h & cuda(mem=8GiB)")
    assert type(req) is RequirementUnion and len(req.requirements) == 1
    gpu_host = HostSpecification(accelerators=[CudaSpecification(memory=16 * GiB)])
    found = req.match(gpu_host)
    assert found is not None and found.requirement == req.requirements[0]
    assert req.match(HostSpecification()) is None


@pytest.mark.parametrize("expr", [g[0] for g in GOOD])
def test_printed_requirement_parses_back(expr):
    """str() of a requirement is an expression meaning the same."""
    req = parse(expr)
    assert parse(str(req)).requirements == req.requirements


# (expression, position of the error, words of the message)
BAD = [
    ("", 0, "empty requirement"),
    ("duration=4", 10, "duration unit"),
    ("duration=4 & cpu()", 11, "duration unit"),
    ("duration=4 weeks", 11, "duration unit"),
    ("duration 4h", 9, "expected '='"),
    ("duration=h", 9, "a duration such as 40h"),
    ("cpu(mem=700)", 11, "size unit"),
    ("cpu(mem=700XB)", 11, "size unit"),
    ("cpu(mem=1G, mem=2G)", 12, "given twice"),
    ("cpu(cores=2.5)", 10, "whole number of cores"),
    ("cpu(gpus=2)", 4, "takes mem= and cores="),
    ("cpu(cores=2", 11, "expected ',' or ')'"),
    ("cpu cores=2", 4, "expected '('"),
    ("cuda(cores=2)", 5, "takes mem="),
    ("cuda(mem=8GiB) * two", 17, "whole number"),
    ("cuda(mem=8GiB) * 0", 17, "at least 1"),
    ("cuda(mem=8GiB) * 1.5", 17, "whole number"),
    ("cuda(mem=8GiB) *", 16, "whole number"),
    ("tpu(mem=1G)", 0, "unknown requirement 'tpu'"),
    ("duration=4h cpu(cores=2)", 12, "expected '&' or '|'"),
    ("duration=4h &", 13, "expected a requirement"),
    ("duration=4h & | cpu()", 14, "expected a requirement"),
    ("| cpu()", 0, "expected a requirement"),
    ("(cuda(mem=1G))", 0, "parentheses do not group"),
    ("gpu(mem=4GiB) & duration=2h $", 28, "unexpected character '$'"),
    ("cpu(mem=1G) && cpu()", 13, "expected a requirement"),
]


@pytest.mark.parametrize(("expr", "position", "words"), BAD, ids=[b[0] or "<empty>" for b in BAD])
def test_bad_expressions_point_at_the_position(expr, position, words):
    """A bad expression raises LauncherSpecError (a ValueError) with its position and a caret."""
    with pytest.raises(LauncherSpecError) as info:
        parse(expr)
    err = info.value
    assert isinstance(err, ValueError)
    assert err.position == position and err.expression == expr
    text = str(err)
    assert words in text
    assert f"at position {position}" in text
    caret_line = text.splitlines()[-1]
    assert caret_line == "    " + " " * position + "^"
    assert text.splitlines()[-2] == "    " + expr


def test_parse_rejects_non_strings():
    with pytest.raises(LauncherSpecError, match="expects a str"):
        parse(42)


class TestRequirementObjects:
    def test_accelerator_types(self):
        """CUDA and MPS specifications carry their type; a generic one has none."""
        assert CudaSpecification().accelerator_type is AcceleratorType.CUDA
        assert MPSSpecification().accelerator_type is AcceleratorType.MPS
        assert MPSSpecification().unified_memory and not CudaSpecification().unified_memory
        assert AcceleratorSpecification().accelerator_type is None

    def test_cuda_gpus_alias(self):
        """cuda_gpus lists only the CUDA accelerators."""
        (req,) = parse("cuda(mem=1GiB) * 2 & mps(mem=1GiB) & gpu()").requirements
        assert req.cuda_gpus == [CudaSpecification(memory=GiB)] * 2
        assert len(req.accelerators) == 4

    def test_multiply_duration(self):
        """multiply_duration scales every alternative and leaves the original alone."""
        req = parse("duration=2h & cuda(mem=1GiB) | duration=30m")
        longer = req.multiply_duration(1.5)
        assert [r.duration for r in longer.requirements] == [3 * H, 2700]
        assert [r.duration for r in req.requirements] == [2 * H, 1800]
        assert longer.requirements[0].accelerators == [CudaSpecification(memory=GiB)]

    def test_operators(self):
        """a & b combines, a | b lists alternatives."""
        (a,), (b,) = parse("duration=1h").requirements, parse("cpu(cores=2)").requirements
        assert (a & b).requirements == parse("duration=1h & cpu(cores=2)").requirements
        assert (a | b).requirements == parse("duration=1h | cpu(cores=2)").requirements
