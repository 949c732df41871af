"""Every sample of a data set, forward and backward, ranked by how its gradient fares (`rnntui scan`,
`rnntui.scan`, `rnntui check --all-samples`).

    from rnntui.samples import scan
    result = scan("model.yaml", workers=2)        # rows in sample order; result.ranked() worst first

See run.py (the loop and its workers), measure.py (one sample's row), table.py (the table and files).
"""
from rnntui.samples.run import Scan, scan

__all__ = ["Scan", "scan"]
