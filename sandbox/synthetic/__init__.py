"""Seeded synthetic TOTVS Protheus masters, truth and agent queries (`canon sample`)."""

from sandbox.synthetic.sample import SampleSummary, generate_sample

__all__ = ["SampleSummary", "generate_sample"]
