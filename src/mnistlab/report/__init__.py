"""`mnistlab report`: LaTeX (+PDF) and self-contained HTML from a run or sweep folder."""
